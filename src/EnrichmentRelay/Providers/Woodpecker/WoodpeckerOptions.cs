using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Providers.Woodpecker;

public sealed class WoodpeckerOptions : IValidatableObject
{
    public const string Section = "Providers:Woodpecker";
    public const int MaxLeadsPerCall = 50;

    public bool Enabled { get; set; } = true;

    /// <summary>https://api.woodpecker.co/rest/ for the real API; filled in by the embedded sandbox otherwise.</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>The <c>x-api-key</c>. Secret: configuration or environment only, never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Leads (or prospects) per call, up to Woodpecker's 50.</summary>
    [Range(1, MaxLeadsPerCall)]
    public int BatchSize { get; set; } = MaxLeadsPerCall;

    public TimeSpan FlushWindow { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Campaigns converted leads are added to; empty = the global prospect list only.</summary>
    public int[] TargetCampaignIds { get; set; } = [];

    /// <summary>How often the poll tick runs. Young batches are checked every tick; older ones less often.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest gap between two checks of an old batch.</summary>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>After this, a request still open completes as TimedOut.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a submit whose answer was lost may stay unfound at Woodpecker before it is sent again; also how long
    /// the relay looks for the batch holding a lead Woodpecker did not queue because it is already pending before
    /// completing it failed.
    /// </summary>
    public TimeSpan ReconcileAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How far before a submit the relay looks for the batch that holds a lead Woodpecker did not queue because it is
    /// already pending (NOT_ENQUEUED, or left out of the batch): that batch may be older than the submit.
    /// </summary>
    public TimeSpan PendingLookBack { get; set; } = TimeSpan.FromDays(2);

    /// <summary>
    /// How long the relay looks for the prospect record of a lead Woodpecker converted (or of a prospect it enriched)
    /// before completing the request failed, with the 1.5 credits Woodpecker charged recorded.
    /// </summary>
    public TimeSpan ProspectMatchTimeout { get; set; } = TimeSpan.FromHours(1);

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (!Enabled)
            yield break;
        if (!ProviderHttp.IsHttpUrl(BaseUrl))
            yield return new ValidationResult("Providers:Woodpecker:BaseUrl must be an absolute http(s) URL when Woodpecker is enabled (or set Providers:Woodpecker:Enabled=false).", [nameof(BaseUrl)]);
        if (string.IsNullOrWhiteSpace(ApiKey))
            yield return new ValidationResult("Providers:Woodpecker:ApiKey is required when Woodpecker is enabled (or set Providers:Woodpecker:Enabled=false).", [nameof(ApiKey)]);
        if (PollInterval < TimeSpan.FromMilliseconds(100) || MaxPollInterval < PollInterval)
            yield return new ValidationResult("Providers:Woodpecker:PollInterval must be at least 100 ms and at most MaxPollInterval.", [nameof(PollInterval)]);
        if (Deadline <= TimeSpan.Zero)
            yield return new ValidationResult("Providers:Woodpecker:Deadline must be positive.", [nameof(Deadline)]);
        if (RequestTimeout <= TimeSpan.Zero)
            yield return new ValidationResult("Providers:Woodpecker:RequestTimeout must be positive.", [nameof(RequestTimeout)]);
        else if (ReconcileAfter <= SubmitCalls.OrphanWindow(RequestTimeout))
            yield return new ValidationResult(
                $"Providers:Woodpecker:ReconcileAfter ({ReconcileAfter}) must be longer than a submit can last, 4 x 'Providers:Woodpecker:RequestTimeout' " +
                $"({SubmitCalls.OrphanWindow(RequestTimeout)}): a lost submit would be sent again while Woodpecker may still create its batch.",
                [nameof(ReconcileAfter), nameof(RequestTimeout)]);
        if (PendingLookBack < TimeSpan.Zero || PendingLookBack > TimeSpan.FromDays(30))
            yield return new ValidationResult("Providers:Woodpecker:PendingLookBack must be between 0 and 30 days.", [nameof(PendingLookBack)]);
        if (ProspectMatchTimeout <= TimeSpan.Zero)
            yield return new ValidationResult("Providers:Woodpecker:ProspectMatchTimeout must be positive.", [nameof(ProspectMatchTimeout)]);
    }
}
