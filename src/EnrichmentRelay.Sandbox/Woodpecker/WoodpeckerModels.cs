using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Woodpecker;

/// <summary>What Lead Finder makes of a queued lead (providers.md §1.6 item 4).</summary>
public enum LeadConversion
{
    /// <summary><c>CONVERTED_TO_PROSPECT</c>: a prospect with an email is created and 1.5 credits are charged.</summary>
    Converted,
    /// <summary><c>NOT_CONVERTED_TO_PROSPECT</c>: nothing is created, nothing is charged.</summary>
    NotConverted,
    /// <summary>
    /// <c>PROCESSED</c> with a <c>processing_result</c> the pages do not list (<see cref="WoodpeckerSimulator.UnrecognizedResult"/>):
    /// nothing is created, nothing is charged.
    /// </summary>
    Unrecognized,
}

public enum WoodpeckerBatchKind
{
    Lead,
    Prospect,
}

/// <summary>Everything the simulator counted since it started or was last reset.</summary>
/// <param name="MaxConcurrentRequests">The most /rest requests in flight at once (arrived, not yet answered, queued ones included).</param>
/// <param name="LeadSubmissions">How often each uid was enqueued: above 1 means the lead was queued (and maybe charged) twice.</param>
/// <param name="ProspectSubmissions">How often each (lowercased) email was enqueued for prospect enrichment.</param>
public sealed record WoodpeckerCounters(
    int LeadSubmitCalls,
    int ProspectSubmitCalls,
    int BatchesCreated,
    int LeadsQueued,
    int ProspectsQueued,
    int LargestBatch,
    decimal CreditsCharged,
    int ListCalls,
    int GetCalls,
    int StatusQueryCalls,
    int ProspectSearchCalls,
    int MaxConcurrentRequests,
    int RequestsDroppedForConcurrency,
    IReadOnlyDictionary<string, int> LeadSubmissions,
    IReadOnlyDictionary<string, int> ProspectSubmissions);

/// <summary>A batch as the simulator holds it, for tests to inspect.</summary>
public sealed record WoodpeckerBatchSnapshot(
    string Uuid,
    WoodpeckerBatchKind Kind,
    DateTimeOffset Created,
    IReadOnlyList<WoodpeckerItemSnapshot> Items);

/// <param name="Uid">The lead uid (lead batches).</param>
/// <param name="Email">The prospect email (prospect batches).</param>
/// <param name="Status">As the API shows it: <c>PENDING</c>/<c>PROCESSED</c> for leads, <c>PENDING</c>/<c>PROCESSED_ENRICHED</c>/<c>PROCESSED_NOT_ENRICHED</c> for prospects.</param>
/// <param name="Result">A lead's <c>processing_result</c>; null while pending and for prospects.</param>
public sealed record WoodpeckerItemSnapshot(string? Uid, string? Email, string Status, string? Result, DateTimeOffset DueAt);

/// <summary>A record of the prospect database.</summary>
/// <param name="VisibleAt">From when <c>GET /rest/v1/prospects</c> returns it.</param>
public sealed record WoodpeckerProspectSnapshot(
    int Id, string Email, string? FirstName, string? LastName, string? Company, string? Website, string? LinkedinUrl,
    DateTimeOffset VisibleAt);

/// <summary>An HTTP answer, minus HTTP. A null body with 204 means No Content.</summary>
/// <param name="DropConnection">The request was carried out, but the connection is cut instead of answering.</param>
public sealed record WoodpeckerAnswer(int Status, JsonNode? Body, IReadOnlyDictionary<string, string>? Headers = null, bool DropConnection = false);
