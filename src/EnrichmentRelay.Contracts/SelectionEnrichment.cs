using System.Text.Json;

namespace EnrichmentRelay.Contracts;

/// <summary>
/// Enrich the people a Lance search selects (Lance's <c>selection.mode = bulk</c>): Lance decides who is
/// selected, so each selected person gets an <see cref="EnrichmentCompleted"/> whose RequestId is
/// <see cref="RequestIdFor"/>(selection, person) and whose correlation data carries <c>selectionId</c>,
/// and the selection ends with one <see cref="SelectionEnrichmentCompleted"/>.
/// </summary>
public record SelectionEnrichmentRequested
{
    /// <summary>The idempotency key of the selection: the same id twice is one selection.</summary>
    public Guid SelectionId { get; init; }
    /// <summary>Lance's search filters, passed through as they are.</summary>
    public JsonElement? Filters { get; init; }
    public int StartIndex { get; init; }
    /// <summary>1 to 1,000.</summary>
    public int TargetCount { get; init; }
    public IReadOnlyList<string>? ExcludedIds { get; init; }
    public EnrichmentField Field { get; init; }
    public IReadOnlyDictionary<string, string>? CorrelationData { get; init; }

    static readonly Guid RequestIdNamespace = new("3c1f0f5e-8a7d-4e0b-b6a2-71e9f4d2c8a3");

    /// <summary>The RequestId of one selected person's completion: the same selection and person, the same id.</summary>
    public static Guid RequestIdFor(Guid selectionId, string personId) =>
        NameBasedGuid.Create(RequestIdNamespace, $"{selectionId:D}:{personId.ToLowerInvariant()}");
}

/// <summary>The end of a selection: how many were selected and how their enrichments ended.</summary>
public record SelectionEnrichmentCompleted
{
    public Guid EventId { get; init; }
    public Guid SelectionId { get; init; }
    public EnrichmentField Field { get; init; }
    /// <summary>Set when Lance refused the whole selection (Rejected, InsufficientCredits, Failed); null otherwise.</summary>
    public Outcome? Refused { get; init; }
    public string? Detail { get; init; }
    public int Selected { get; init; }
    /// <summary>Selected persons per outcome of their EnrichmentCompleted, keyed by the outcome's wire name ("found", …).</summary>
    public IReadOnlyDictionary<string, int> Outcomes { get; init; } = new Dictionary<string, int>();
    public IReadOnlyList<Guid> RequestIds { get; init; } = [];
    public IReadOnlyDictionary<string, string> CorrelationData { get; init; } = new Dictionary<string, string>();
    public DateTimeOffset RequestedAt { get; init; }
    public DateTimeOffset CompletedAt { get; init; }

    static readonly Guid EventIdNamespace = new("9a4e2d71-5c3b-4f86-a0d9-1b7e6c5f2a48");

    public static Guid EventIdFor(Guid selectionId) => NameBasedGuid.Create(EventIdNamespace, selectionId.ToString("D"));
}
