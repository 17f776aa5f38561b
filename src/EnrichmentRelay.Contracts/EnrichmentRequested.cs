using System.Text.Json;

namespace EnrichmentRelay.Contracts;

/// <summary>
/// A producer asks for a lead's email and/or phone. <see cref="RequestId"/> is the idempotency key:
/// the same id twice is one enrichment, one charge and one <see cref="EnrichmentCompleted"/>.
/// </summary>
public record EnrichmentRequested
{
    public Guid RequestId { get; init; }
    public Lead? Lead { get; init; }
    public IReadOnlyList<EnrichmentField>? Fields { get; init; }
    /// <summary>Order of providers to try; when absent the relay routes by what the lead carries.</summary>
    public IReadOnlyList<ProviderName>? Providers { get; init; }
    /// <summary>Echoed verbatim on the completion. Kept in the relay's store, never sent to a provider.</summary>
    public IReadOnlyDictionary<string, string>? CorrelationData { get; init; }
}

/// <summary>Who to enrich. Which members are needed depends on the provider (see the README).</summary>
public record Lead
{
    public string? FirstName { get; init; }
    public string? LastName { get; init; }
    public string? CompanyName { get; init; }
    public string? CompanyDomain { get; init; }
    public string? LinkedInUrl { get; init; }
    public string? Email { get; init; }
    /// <summary>The Woodpecker Lead Finder lead as its search returned it (snake_case, with <c>uid</c>).</summary>
    public JsonElement? WoodpeckerLead { get; init; }
    public string? LancePersonId { get; init; }
}
