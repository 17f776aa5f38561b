using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Providers.Lance;

public sealed class LanceOptions : IValidatableObject
{
    public const string Section = "Providers:Lance";
    public const int MaxIdsPerCall = 1000;
    public const int MaxTasksPerQuery = 200;

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The vendor documents two hosts (https://app.lance.so/ and https://api.lance.app/); the API lives
    /// under <c>api/v1/</c> of this address. Filled in by the embedded sandbox otherwise.
    /// </summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Bearer token. Secret: configuration or environment only, never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Requests per flush; each becomes one task per field, sent in one bulk call per field.</summary>
    [Range(1, MaxIdsPerCall)]
    public int BatchSize { get; set; } = MaxIdsPerCall;

    public TimeSpan FlushWindow { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tasks Lance never reports on (the query omits them) stay open until this, then time out.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromHours(24);

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// What one new enrichment costs: Lance prices "credits per lead" without saying how many. A task counts as
    /// charged when its record carries a <c>creditTransactionId</c> and was not one Lance held before the submit.
    /// </summary>
    public decimal CreditsPerEnrichment { get; set; } = 1m;

    public const decimal MaxCreditsPerEnrichment = 1000m;

    /// <summary>
    /// How the phone numbers Lance finds are written into results: <see cref="Providers.PhoneFormat.AsReceived"/> (the
    /// default) or <see cref="Providers.PhoneFormat.E164"/>. Lance does not document their format; after a change,
    /// <c>POST /admin/renormalize</c> corrects the requests completed before it.
    /// </summary>
    public PhoneFormat PhoneFormat { get; set; } = PhoneFormat.AsReceived;

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (!Enabled)
            yield break;
        if (!ProviderHttp.IsHttpUrl(BaseUrl))
            yield return new ValidationResult("Providers:Lance:BaseUrl must be an absolute http(s) URL when Lance is enabled (or set Providers:Lance:Enabled=false).", [nameof(BaseUrl)]);
        if (string.IsNullOrWhiteSpace(ApiKey))
            yield return new ValidationResult("Providers:Lance:ApiKey is required when Lance is enabled (or set Providers:Lance:Enabled=false).", [nameof(ApiKey)]);
        if (PollInterval < TimeSpan.FromMilliseconds(100))
            yield return new ValidationResult("Providers:Lance:PollInterval must be at least 100 ms.", [nameof(PollInterval)]);
        if (Deadline <= TimeSpan.Zero)
            yield return new ValidationResult("Providers:Lance:Deadline must be positive.", [nameof(Deadline)]);
        if (CreditsPerEnrichment is < 0 or > MaxCreditsPerEnrichment)
            yield return new ValidationResult($"Providers:Lance:CreditsPerEnrichment must be between 0 and {MaxCreditsPerEnrichment:0}.", [nameof(CreditsPerEnrichment)]);
    }
}
