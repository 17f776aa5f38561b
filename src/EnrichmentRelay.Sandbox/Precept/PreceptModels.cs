using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>What the simulated Precept finds for a lead.</summary>
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

/// <summary>Precept's documented field-name drift: snake_case (default) or camelCase contact fields.</summary>
public enum ContactFieldNaming
{
    Snake,
    Camel,
}

/// <summary>Knobs tests turn; each read happens when it matters, so a change applies to what follows.</summary>
public sealed class PreceptSettings
{
    public decimal Credits { get; set; } = 1_000_000;
    public LeadOutcome DefaultOutcome { get; set; } = LeadOutcome.Found;
    public TimeSpan ProcessingDelay { get; set; } = TimeSpan.FromMilliseconds(300);
    public TimeSpan ProcessingJitter { get; set; } = TimeSpan.Zero;
    public ContactFieldNaming ContactFieldNaming { get; set; } = ContactFieldNaming.Snake;
    /// <summary>Extra identical webhook POSTs after a successful one (Precept may duplicate).</summary>
    public int DuplicateDeliveries { get; set; }
    /// <summary>Send no webhooks at all: results are only pollable.</summary>
    public bool DropWebhooks { get; set; }
    public string? DefaultWebhookUrl { get; set; }
    /// <summary>Precept does not document the name of the "unprocessed leads" list of a credit-capped 202.</summary>
    public string UnprocessedFieldName { get; set; } = "unprocessed";
    public TimeSpan WebhookRetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);
}

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
    IReadOnlyDictionary<string, int> LeadSubmissions);

public sealed record PreceptJobSnapshot(
    string EnrichmentId,
    string? Name,
    string Status,
    string? WebhookUrl,
    int Total,
    int Completed,
    int Skipped,
    decimal CostCredits,
    IReadOnlyList<JsonObject>? Results,
    DateTimeOffset CreatedAt);
