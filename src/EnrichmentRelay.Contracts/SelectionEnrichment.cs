using System.Text.Json;
using MassTransit;

namespace EnrichmentRelay.Contracts;

/// <summary>
/// Enrich the people a Lance search selects (Lance's <c>selection.mode = bulk</c>): Lance decides who is
/// selected, so each selected person gets an <see cref="EnrichmentCompleted"/> whose RequestId is
/// <see cref="RequestIdFor"/>(selection, person) and whose correlation data carries <c>selectionId</c>,
/// and the selection ends with one <see cref="SelectionEnrichmentCompleted"/>.
/// </summary>
[MessageUrn(ExchangeNames.SelectionEnrichmentRequested)]
[EntityName(ExchangeNames.SelectionEnrichmentRequested)]
[FaultEntityName(ExchangeNames.FaultPrefix + ExchangeNames.SelectionEnrichmentRequested + ExchangeNames.FaultSuffix)]
public record SelectionEnrichmentRequested
{
    /// <summary>The idempotency key of the selection: the same id twice is one selection.</summary>
    public Guid SelectionId { get; init; }

    /// <summary>Lance's search filters, passed through as they are.</summary>
    public JsonElement? Filters { get; init; }

    /// <summary>Where in Lance's search results the selection starts.</summary>
    public int StartIndex { get; init; }

    /// <summary>How many persons to select: 1 to 1,000.</summary>
    public int TargetCount { get; init; }

    /// <summary>Lance person ids never to select.</summary>
    public IReadOnlyList<string>? ExcludedIds { get; init; }

    /// <summary>What to find for each selected person.</summary>
    public EnrichmentField Field { get; init; }

    /// <summary>Echoed on the summary and on every selected person's completion (with <c>selectionId</c> added).</summary>
    public IReadOnlyDictionary<string, string>? CorrelationData { get; init; }

    static readonly Guid RequestIdNamespace = new("3c1f0f5e-8a7d-4e0b-b6a2-71e9f4d2c8a3");

    /// <summary>The RequestId of one selected person's completion: the same selection and person, the same id.</summary>
    /// <param name="selectionId">The selection's <see cref="SelectionId"/>.</param>
    /// <param name="personId">The Lance person id (compared case-insensitively).</param>
    public static Guid RequestIdFor(Guid selectionId, string personId) =>
        NameBasedGuid.Create(RequestIdNamespace, $"{selectionId:D}:{personId.ToLowerInvariant()}");
}

/// <summary>The end of a selection: how many were selected and how their enrichments ended.</summary>
[MessageUrn(ExchangeNames.SelectionEnrichmentCompleted)]
[EntityName(ExchangeNames.SelectionEnrichmentCompleted)]
[FaultEntityName(ExchangeNames.FaultPrefix + ExchangeNames.SelectionEnrichmentCompleted + ExchangeNames.FaultSuffix)]
public record SelectionEnrichmentCompleted
{
    /// <summary><see cref="EventIdFor"/>(<see cref="SelectionId"/>): deduplicate on it.</summary>
    public Guid EventId { get; init; }

    /// <summary>The <see cref="SelectionEnrichmentRequested.SelectionId"/> this answers.</summary>
    public Guid SelectionId { get; init; }

    /// <summary>The field that was asked for.</summary>
    public EnrichmentField Field { get; init; }

    /// <summary>Set when Lance refused the whole selection (Rejected, InsufficientCredits, Failed); null otherwise.</summary>
    public Outcome? Refused { get; init; }

    /// <summary>Lance's reason, when it refused the selection.</summary>
    public string? Detail { get; init; }

    /// <summary>How many persons Lance selected.</summary>
    public int Selected { get; init; }

    /// <summary>Selected persons per outcome of their EnrichmentCompleted, keyed by the outcome's wire name ("found", …).</summary>
    public IReadOnlyDictionary<string, int> Outcomes { get; init; } = new Dictionary<string, int>();

    /// <summary>The RequestIds of the selected persons' completions.</summary>
    public IReadOnlyList<Guid> RequestIds { get; init; } = [];

    /// <summary>The selection's <see cref="SelectionEnrichmentRequested.CorrelationData"/>, verbatim.</summary>
    public IReadOnlyDictionary<string, string> CorrelationData { get; init; } = new Dictionary<string, string>();

    /// <summary>When the relay accepted the selection.</summary>
    public DateTimeOffset RequestedAt { get; init; }

    /// <summary>When the last selected person's enrichment ended.</summary>
    public DateTimeOffset CompletedAt { get; init; }

    static readonly Guid EventIdNamespace = new("9a4e2d71-5c3b-4f86-a0d9-1b7e6c5f2a48");

    /// <summary>The event id for a selection: the same selection id always gives the same event id.</summary>
    /// <param name="selectionId">The selection's id.</param>
    public static Guid EventIdFor(Guid selectionId) => NameBasedGuid.Create(EventIdNamespace, selectionId.ToString("D"));
}
