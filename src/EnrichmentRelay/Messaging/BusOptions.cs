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

    /// <summary>How many requests the intake consumer handles at once.</summary>
    [Range(1, 1024)]
    public int ConcurrentMessageLimit { get; set; } = 32;

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Transport == BusTransport.RabbitMq && string.IsNullOrWhiteSpace(Host))
            yield return new ValidationResult("Bus:Host is required when Bus:Transport is RabbitMq.", [nameof(Host)]);
    }
}
