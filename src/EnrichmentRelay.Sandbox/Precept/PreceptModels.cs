using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>What the simulated Precept finds for a lead (providers.md §2.6 item 5).</summary>
public enum LeadOutcome
{
    /// <summary>Every requested type found.</summary>
    Found,
    EmailOnly,
    PhoneOnly,
    /// <summary>A result item with both contact fields null.</summary>
    NoContact,
    /// <summary>A result item with <c>"error": "Lead not found"</c>.</summary>
    NotFound,
    /// <summary>No result item at all; counted in <c>progress.skipped</c>.</summary>
    Skipped,
}

/// <summary>
/// How Precept writes the phone numbers it found. Its pages show no example of one and say nothing of their format
/// (providers.md §2.3), so the sandbox plays both readings: E.164 (<c>+15550123456</c>, the default) or an international
/// number with separators (<c>+1 555-012-3456</c>).
/// </summary>
public enum PhoneStyle
{
    E164,
    Spaced,
}

public static class PhoneStyles
{
    /// <summary>An E.164 number <paramref name="phone"/> (<c>+15550123456</c>) as <paramref name="style"/> writes it: <c>+1 555-012-3456</c> when spaced.</summary>
    public static string Write(this PhoneStyle style, string phone) =>
        style == PhoneStyle.Spaced ? $"{phone[..2]} {phone[2..5]}-{phone[5..8]}-{phone[8..]}" : phone;
}

/// <summary>
/// Precept's documented field-name drift (providers.md §2.3): <c>enrich_email</c>/<c>enrich_phone</c>/<c>custom_data</c>
/// (default) or <c>enrichEmail</c>/<c>enrichPhone</c>/<c>customData</c>.
/// </summary>
public enum ContactFieldNaming
{
    Snake,
    Camel,
}

/// <summary>
/// The body of <c>GET /v1/jobs</c>, which Precept documents only as <c>?limit=1</c> (providers.md §2.2 (c)): each shape
/// a reasonable API could have, so the relay is tested under every one.
/// </summary>
public enum JobListShape
{
    /// <summary><c>{"jobs":[…]}</c>, all on one page (<c>limit</c> caps it).</summary>
    JobsObject,
    /// <summary>A bare array, one page only: <c>page</c> and any cursor are ignored, so older jobs never show.</summary>
    BareArray,
    /// <summary><c>{"data":[…],"next":"/v1/jobs?page=2&amp;limit=…"}</c>: a relative link to the next page until the last.</summary>
    DataWithNextLink,
    /// <summary><c>{"results":[…],"page":n,"total":t}</c> with <c>page</c> honoured and no link.</summary>
    ResultsPaged,
}

/// <summary>Everything the simulator counted since it started or was last reset.</summary>
/// <param name="LeadsRejectedByCreditCap">Leads cut by a credit-capped 202 or refused by a 402.</param>
/// <param name="LeadSubmissions">
/// How often each lead became part of a job, keyed by identity (linkedinUrl, else "first last @ company|domain",
/// lowercased): any value above 1 means the same lead was charged twice.
/// </param>
/// <param name="FieldsAsked">What each lead (keyed as in <paramref name="LeadSubmissions"/>) was last asked for: "email", "phone" or "email+phone".</param>
public sealed record PreceptCounters(
    int SubmitCalls,
    int JobsCreated,
    int LeadsAccepted,
    int LeadsRejectedByCreditCap,
    decimal CreditsCharged,
    int JobStatusCalls,
    int JobListCalls,
    int WebhookAttempts,
    int WebhookDeliveries,
    int LargestJob,
    IReadOnlyDictionary<string, int> LeadSubmissions,
    IReadOnlyDictionary<string, string> FieldsAsked);

/// <summary>A job as the simulator holds it, for tests to inspect.</summary>
/// <param name="Status">The job's own status: <c>completed</c> or <c>failed</c> once it ended, even while the API shows it held open.</param>
/// <param name="Results">Null until the job ends (here even while it is held open; in <c>GET /v1/jobs/{id}</c> not until it is released).</param>
/// <param name="WebhooksPending">Callbacks queued or still being tried; 0 once every delivery succeeded or gave up.</param>
/// <param name="WebhooksAbandoned">Callbacks given up on after the last retry.</param>
/// <param name="HeldOpen">The job ended while <see cref="PreceptSettings.HoldJobsOpen"/> was on and is not yet released.</param>
public sealed record PreceptJobSnapshot(
    string EnrichmentId,
    string? Name,
    string Status,
    string? WebhookUrl,
    bool StreamingResults,
    int Total,
    int Completed,
    int Skipped,
    decimal CostCredits,
    int EmailsFound,
    int PhonesFound,
    IReadOnlyList<JsonObject>? Results,
    DateTimeOffset CreatedAt,
    int WebhooksPending,
    int WebhooksAbandoned,
    bool WebhooksLost = false,
    bool HeldOpen = false);
