using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Cache;

/// <summary>How long the identity cache keeps what providers said of a person (<c>Cache:*</c>).</summary>
public sealed class CacheOptions : IValidatableObject
{
    public const string Section = "Cache";

    /// <summary>The longest either may be: a person's contacts go stale, and the cache must not outlive that by years.</summary>
    public static readonly TimeSpan MaxKeep = TimeSpan.FromDays(3650);

    /// <summary>How long contacts found are reused; zero switches the cache off (nothing stored, nothing looked up).</summary>
    public TimeSpan FoundFor { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// How long "the provider looked and found nothing" is reused: shorter, since a person may be findable next week, but
    /// providers charge for misses. Zero: misses are not cached.
    /// </summary>
    public TimeSpan NotFoundFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Whether a request identical to one in flight (same identity, fields and provider order) waits for that one's answer
    /// instead of calling a provider again; across instances, through the ledger.
    /// </summary>
    public bool Coalesce { get; set; } = true;

    /// <summary>How often requests waiting for an identical one are given its answer once it completed (and leftovers cleaned).</summary>
    public TimeSpan FollowerSweepInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    public bool Enabled => FoundFor > TimeSpan.Zero;

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (FoundFor < TimeSpan.Zero || FoundFor > MaxKeep)
            yield return new ValidationResult($"{Section}:FoundFor must be between 0 (cache off) and {MaxKeep.TotalDays:0} days.", [nameof(FoundFor)]);
        if (NotFoundFor < TimeSpan.Zero || NotFoundFor > MaxKeep)
            yield return new ValidationResult($"{Section}:NotFoundFor must be between 0 (misses not cached) and {MaxKeep.TotalDays:0} days.", [nameof(NotFoundFor)]);
        if (FollowerSweepInterval < TimeSpan.FromMilliseconds(50) || FollowerSweepInterval > TimeSpan.FromMinutes(1))
            yield return new ValidationResult($"{Section}:FollowerSweepInterval must be between 50 ms and 1 minute.", [nameof(FollowerSweepInterval)]);
    }
}
