using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Providers.Precept;

public sealed class PreceptOptions : IValidatableObject
{
    public const string Section = "Providers:Precept";
    public const int MaxLeadsPerJob = 1000;

    public bool Enabled { get; set; } = true;

    /// <summary>https://api.preceptai.co.uk for the real API; filled in by the embedded sandbox otherwise.</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Bearer token. Secret: read from configuration or the environment, never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Leads per job, up to Precept's limit of 1,000.</summary>
    [Range(1, MaxLeadsPerJob)]
    public int BatchSize { get; set; } = MaxLeadsPerJob;

    /// <summary>How long the oldest waiting lead may wait for its job to fill.</summary>
    public TimeSpan FlushWindow { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Precept's callbacks are unsigned: with this on, a callback is only a hint and the job is read back
    /// with our own key (<c>GET /v1/jobs/{id}</c>) before anything is emitted.
    /// </summary>
    public bool VerifyCallbacks { get; set; } = true;

    /// <summary>
    /// How the phone numbers Precept finds are written into results: <see cref="PhoneFormat.AsReceived"/> (the
    /// default) or <see cref="PhoneFormat.E164"/>. Precept does not document their format; after a change, the
    /// requests completed before it are brought in line by <c>POST /admin/renormalize</c>, from their stored answers.
    /// </summary>
    public PhoneFormat PhoneFormat { get; set; } = PhoneFormat.AsReceived;

    /// <summary>How long after the submit a job may go without its callback before the sweep reads it.</summary>
    public TimeSpan CallbackGrace { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the sweep for overdue callbacks and lost submits runs.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long after its POST left a submit whose answer was lost is looked for at Precept; still not found then, its job
    /// is parked as needing attention (or sent again with <see cref="ResendUnfoundSubmits"/>). Must be longer than the
    /// time such a POST can take (4 × RequestTimeout), or the job could be given up while Precept still creates it.
    /// </summary>
    public TimeSpan ReconcileAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Send again, without an operator, the leads of a submit whose answer was lost and which Precept does not show
    /// after <see cref="ReconcileAfter"/>. Off by default: Precept documents no way to find a job by its name (its job
    /// listing's shape and filters are undocumented), so "not shown" is no proof that the POST did nothing, and a
    /// resend of a job Precept did create charges every lead of it twice.
    /// </summary>
    public bool ResendUnfoundSubmits { get; set; }

    /// <summary>After this, a request still open completes as TimedOut.</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Callbacks accepted per second per calling address before the webhook answers 429 (Precept retries,
    /// and the sweep reads any job whose callback was lost, so a refusal loses nothing).
    /// </summary>
    [Range(1, 100_000)]
    public int WebhookPermitsPerSecond { get; set; } = 500;

    /// <summary>Upper bound for one call to Precept.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (!Enabled)
            yield break;
        if (!ProviderHttp.IsHttpUrl(BaseUrl))
            yield return new ValidationResult("Providers:Precept:BaseUrl must be an absolute http(s) URL when Precept is enabled (or set Providers:Precept:Enabled=false).", [nameof(BaseUrl)]);
        if (string.IsNullOrWhiteSpace(ApiKey))
            yield return new ValidationResult("Providers:Precept:ApiKey is required when Precept is enabled (or set Providers:Precept:Enabled=false).", [nameof(ApiKey)]);
        if (FlushWindow < TimeSpan.Zero || FlushWindow > TimeSpan.FromMinutes(5))
            yield return new ValidationResult("Providers:Precept:FlushWindow must be between 0 and 5 minutes.", [nameof(FlushWindow)]);
        // The sweep's interval is its poll tick: zero would divide by zero, tiny would hammer Precept.
        if (SweepInterval < TimeSpan.FromMilliseconds(100))
            yield return new ValidationResult("Providers:Precept:SweepInterval must be at least 100 ms.", [nameof(SweepInterval)]);
        if (Deadline <= TimeSpan.Zero)
            yield return new ValidationResult("Providers:Precept:Deadline must be positive.", [nameof(Deadline)]);
        if (RequestTimeout <= TimeSpan.Zero)
            yield return new ValidationResult("Providers:Precept:RequestTimeout must be positive.", [nameof(RequestTimeout)]);
        else if (ReconcileAfter <= SubmitCalls.OrphanWindow(RequestTimeout))
            yield return new ValidationResult(
                $"Providers:Precept:ReconcileAfter ({ReconcileAfter}) must be longer than a submit can last, 4 x 'Providers:Precept:RequestTimeout' " +
                $"({SubmitCalls.OrphanWindow(RequestTimeout)}): a lost submit would be given up while Precept may still create its job.",
                [nameof(ReconcileAfter), nameof(RequestTimeout)]);
    }
}
