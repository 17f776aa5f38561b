using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Messaging;

public enum BusTransport
{
    /// <summary>In-process only: for trying the relay out; messages do not survive a restart.</summary>
    InMemory,
    RabbitMq,
}

public sealed class BusOptions : IValidatableObject
{
    public const string Section = "Bus";

    public BusTransport Transport { get; set; } = BusTransport.InMemory;
    public string? Host { get; set; }
    public ushort Port { get; set; } = 5672;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "guest";
    public string Password { get; set; } = "guest";

    /// <summary>
    /// How many requests the intake consumer holds at once (prefetched and in batches); it is raised to
    /// <see cref="IntakeBatchSize"/> × <see cref="IntakeConcurrentBatches"/> when lower.
    /// </summary>
    [Range(1, 10_000)]
    public int ConcurrentMessageLimit { get; set; } = 200;

    /// <summary>Most requests the intake stores in one transaction.</summary>
    [Range(1, 1000)]
    public int IntakeBatchSize { get; set; } = 100;

    /// <summary>Longest a request waits for others to share its transaction.</summary>
    public TimeSpan IntakeBatchWindow { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Intake batches stored at once (more only helps a database that takes concurrent writers).</summary>
    [Range(1, 64)]
    public int IntakeConcurrentBatches { get; set; } = 2;

    /// <summary>
    /// The immediate retries of a failing message, in memory, while it holds its place (a database restarting,
    /// a provider answering 503). Unset: after 200 ms, 1 s and 5 s.
    /// </summary>
    public TimeSpan[]? RetryIntervals { get; set; }

    static readonly TimeSpan[] DefaultRetryIntervals = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    public IReadOnlyList<TimeSpan> Retry => RetryIntervals ?? DefaultRetryIntervals;

    /// <summary>
    /// After a consumer's immediate retries, how long a failing message waits (in a RabbitMQ delay queue) before
    /// each further try; when all are used up it becomes a dead letter. Unset: 10 s, 1 min, 5 min.
    /// </summary>
    public TimeSpan[]? RedeliveryDelays { get; set; }

    static readonly TimeSpan[] DefaultRedeliveryDelays = [TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5)];

    public IReadOnlyList<TimeSpan> Redelivery => RedeliveryDelays ?? DefaultRedeliveryDelays;

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Retry.Count > 10 || Retry.Any(d => d < TimeSpan.Zero || d > TimeSpan.FromMinutes(1)))
            yield return new ValidationResult("Bus:RetryIntervals must be at most 10 intervals, each from 0 to 1 minute.", [nameof(RetryIntervals)]);
        if (Redelivery.Count > 10 || Redelivery.Any(d => d <= TimeSpan.Zero || d > TimeSpan.FromDays(1)))
            yield return new ValidationResult("Bus:RedeliveryDelays must be at most 10 delays, each above 0 and at most a day.", [nameof(RedeliveryDelays)]);
        if (Transport == BusTransport.RabbitMq && string.IsNullOrWhiteSpace(Host))
            yield return new ValidationResult("Bus:Host is required when Bus:Transport is RabbitMq.", [nameof(Host)]);
        if (IntakeBatchWindow <= TimeSpan.Zero || IntakeBatchWindow > TimeSpan.FromSeconds(10))
            yield return new ValidationResult("Bus:IntakeBatchWindow must be more than 0 and at most 10 seconds.", [nameof(IntakeBatchWindow)]);
    }
}
