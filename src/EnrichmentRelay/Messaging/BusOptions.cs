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

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Transport == BusTransport.RabbitMq && string.IsNullOrWhiteSpace(Host))
            yield return new ValidationResult("Bus:Host is required when Bus:Transport is RabbitMq.", [nameof(Host)]);
        if (IntakeBatchWindow <= TimeSpan.Zero || IntakeBatchWindow > TimeSpan.FromSeconds(10))
            yield return new ValidationResult("Bus:IntakeBatchWindow must be more than 0 and at most 10 seconds.", [nameof(IntakeBatchWindow)]);
    }
}
