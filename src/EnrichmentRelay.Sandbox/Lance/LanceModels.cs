using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Lance;

/// <summary>What Lance makes of an enrichment of one (person, field) (providers.md §3.6 item 5).</summary>
public enum LanceOutcome
{
    /// <summary><c>finished</c>, <c>dataFound: true</c>: an email or phone is appended to the person.</summary>
    Found,
    /// <summary><c>finished</c>, <c>dataFound: false</c>.</summary>
    NotFound,
    /// <summary><c>failed</c> with <c>error: "Provider error"</c>.</summary>
    Failed,
    Timeout,
    Cancelled,
    /// <summary>Stays <c>pending</c> and the batch query never returns the task.</summary>
    Omitted,
}

/// <summary>Everything the simulator counted since it started or was last reset.</summary>
/// <param name="LargestBulk">The most enrichments (new and reused) one successful bulk call answered.</param>
/// <param name="LargestQuery">The most tasks one valid batch query asked about.</param>
/// <param name="Charges">How often each <c>"personId:field"</c> was charged: above 1 means it was paid for twice.</param>
public sealed record LanceCounters(
    int BulkCalls,
    int QueryCalls,
    int PersonReads,
    int EnrichmentsCreated,
    int EnrichmentsReused,
    decimal CreditsCharged,
    int LargestBulk,
    int LargestQuery,
    IReadOnlyDictionary<string, int> Charges);

/// <summary>An enrichment record as the simulator holds it, for tests to inspect.</summary>
/// <param name="DueAt">When it leaves <c>pending</c> (an Omitted one never does).</param>
public sealed record LanceEnrichmentSnapshot(
    string Id,
    string EntityId,
    string Field,
    string Status,
    bool? DataFound,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset DueAt);

/// <summary>An HTTP answer, minus HTTP.</summary>
/// <param name="DropConnection">The request was carried out, but the connection is cut instead of answering.</param>
public sealed record LanceAnswer(int Status, JsonNode Body, bool DropConnection = false);
