using System.Text.Json;
using MassTransit;

namespace EnrichmentRelay.Contracts;

/// <summary>
/// A producer asks for a lead's email and/or phone. <see cref="RequestId"/> is the idempotency key:
/// the same id twice is one enrichment, one charge and one <see cref="EnrichmentCompleted"/>.
/// </summary>
[MessageUrn(ExchangeNames.EnrichmentRequested)]
[EntityName(ExchangeNames.EnrichmentRequested)]
[FaultEntityName(ExchangeNames.FaultPrefix + ExchangeNames.EnrichmentRequested + ExchangeNames.FaultSuffix)]
public record EnrichmentRequested
{
    /// <summary>The producer's idempotency key; it comes back on the completion.</summary>
    public Guid RequestId { get; init; }

    /// <summary>Who to enrich.</summary>
    public Lead? Lead { get; init; }

    /// <summary>What to find: <see cref="EnrichmentField.Email"/>, <see cref="EnrichmentField.Phone"/> or both.</summary>
    public IReadOnlyList<EnrichmentField>? Fields { get; init; }

    /// <summary>
    /// The waterfall: providers to try, in order. The first that can identify the lead is asked; when it does not find
    /// a field (or has no credits, or refuses the lead), the next that can is asked for the fields still missing. When
    /// absent, the relay's configured default order applies, else it routes to one provider by what the lead carries.
    /// </summary>
    public IReadOnlyList<ProviderName>? Providers { get; init; }

    /// <summary>Echoed verbatim on the completion. Kept in the relay's store, never sent to a provider.</summary>
    public IReadOnlyDictionary<string, string>? CorrelationData { get; init; }
}

/// <summary>Who to enrich. Which members are needed depends on the provider (see the relay's docs/messages.md).</summary>
public record Lead
{
    /// <summary>The person's first name (Precept: with <see cref="LastName"/> and a company, when there is no LinkedIn URL).</summary>
    public string? FirstName { get; init; }

    /// <summary>The person's last name.</summary>
    public string? LastName { get; init; }

    /// <summary>The company the person works for.</summary>
    public string? CompanyName { get; init; }

    /// <summary>The company's web domain, e.g. <c>acme.com</c>.</summary>
    public string? CompanyDomain { get; init; }

    /// <summary>The person's LinkedIn profile URL: the surest way for Precept to identify them.</summary>
    public string? LinkedInUrl { get; init; }

    /// <summary>A known email: with <c>providers = [woodpecker]</c> it names a Woodpecker prospect to enrich.</summary>
    public string? Email { get; init; }

    /// <summary>The Woodpecker Lead Finder lead as its search returned it (snake_case, with <c>uid</c>).</summary>
    public JsonElement? WoodpeckerLead { get; init; }

    /// <summary>A Lance person id (uuid): routes the lead to Lance.</summary>
    public string? LancePersonId { get; init; }
}
