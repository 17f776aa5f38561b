using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Jobs;

/// <summary>How the engine treats a job whose reads (or whose callbacks) keep failing.</summary>
public sealed class JobsOptions
{
    public const string Section = "Jobs";

    /// <summary>Failures in a row after which a job is left alone as a dead letter (replaying it reads it again).</summary>
    [Range(1, 1000)]
    public int MaxReadFailures { get; set; } = 10;

    /// <summary>The longest wait before a job whose reads failed is read again (the wait doubles per failure).</summary>
    public TimeSpan MaxBackOff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long the back-off after a failure starts, for callbacks (a poll's starts at its tick).</summary>
    public TimeSpan FirstBackOff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The wait after <paramref name="failures"/> failures in a row: <paramref name="first"/> doubled, at most <see cref="MaxBackOff"/>.</summary>
    public TimeSpan BackOff(TimeSpan first, int failures)
    {
        var wait = first * Math.Pow(2, Math.Min(failures - 1, 20));
        return wait < MaxBackOff ? wait : MaxBackOff;
    }
}
