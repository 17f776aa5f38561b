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

/// <summary>When a new enrichment is paid for (providers.md §5.16).</summary>
public enum LanceCharging
{
    /// <summary>At submit, for every new record, whatever it comes to (the bulk page).</summary>
    AtSubmit,
    /// <summary>Only when it finishes with <c>dataFound: true</c> (the batch page).</summary>
    OnDataFound,
}

/// <summary>The body of an error answer.</summary>
public enum LanceErrorBody
{
    /// <summary><c>{"error": {"code", "message"}}</c>.</summary>
    Nested,
    /// <summary><c>{"code", "message"}</c>.</summary>
    Flat,
    /// <summary>The message alone, as <c>text/plain</c>: only the status tells the kind.</summary>
    PlainText,
}

public enum LanceQueryOrder
{
    /// <summary>The reverse of the order asked.</summary>
    Reversed,
    /// <summary>A shuffle that changes from call to call.</summary>
    Shuffled,
}

public enum LanceIdFormat
{
    /// <summary>Enrichment ids are uuids; credit transactions <c>txn_…</c>.</summary>
    Uuid,
    /// <summary>Neither id is a uuid: <c>enr_…</c> and <c>credit_…</c>.</summary>
    Opaque,
}

/// <summary>What a manual bulk call does with an id Lance holds no person for.</summary>
public enum LanceUnknownIds
{
    /// <summary>The person is created on the spot (persons are global; the sandbox's long-standing guess).</summary>
    Create,
    /// <summary>The whole call answers <c>400 VALIDATION_ERROR</c>.</summary>
    Refuse,
    /// <summary>The id is left out of the answer and nothing is created for it.</summary>
    Skip,
}

/// <summary>Everything the simulator counted since it started or was last reset.</summary>
/// <param name="LargestBulk">The most enrichments (new and reused) one successful bulk call answered.</param>
/// <param name="LargestQuery">The most tasks one valid batch query asked about.</param>
/// <param name="Charges">
/// How often each <c>"personId:field"</c> was charged: above 1 means it was paid for twice. Charged when
/// <see cref="LanceSettings.Charging"/> says: at submit, or when the enrichment finishes with data.
/// </param>
/// <param name="Submissions">How often each <c>"personId:field"</c> was in a bulk call Lance carried out (refused calls do not count).</param>
public sealed record LanceCounters(
    int BulkCalls,
    int QueryCalls,
    int PersonReads,
    int EnrichmentsCreated,
    int EnrichmentsReused,
    decimal CreditsCharged,
    int LargestBulk,
    int LargestQuery,
    IReadOnlyDictionary<string, int> Charges,
    IReadOnlyDictionary<string, int> Submissions);

/// <summary>An enrichment record as the simulator holds it, for tests to inspect.</summary>
/// <param name="DueAt">When it leaves <c>pending</c> (an Omitted one never does).</param>
public sealed record LanceEnrichmentSnapshot(
    string Id,
    string EntityId,
    string Field,
    string Status,
    bool? DataFound,
    string? Error,
    string? CreditTransactionId,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset DueAt);

/// <summary>An HTTP answer, minus HTTP.</summary>
/// <param name="Body">The JSON body; null when <paramref name="Text"/> is the body instead.</param>
/// <param name="Text">A <c>text/plain</c> body.</param>
/// <param name="DropConnection">The request was carried out, but the connection is cut instead of answering.</param>
public sealed record LanceAnswer(int Status, JsonNode? Body, string? Text = null, bool DropConnection = false);
