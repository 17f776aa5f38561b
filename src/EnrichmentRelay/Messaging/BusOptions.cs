using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Messaging;

public enum BusTransport
{
    /// <summary>In-process only: for trying the relay out; messages do not survive a restart.</summary>
    InMemory,
    RabbitMq,
}

/// <summary>The kind of queue the relay declares for its consumers, their delay queues and their error queues.</summary>
public enum BusQueueType
{
    /// <summary>RabbitMQ's classic queue: on one node; a single broker needs nothing else.</summary>
    Classic,
    /// <summary>Replicated over the cluster's nodes (Raft): survives the loss of a minority of them. For a cluster.</summary>
    Quorum,
}

public sealed class BusOptions : IValidatableObject
{
    public const string Section = "Bus";

    public BusTransport Transport { get; set; } = BusTransport.InMemory;

    /// <summary>
    /// The broker as one URI, the way hosting platforms hand it out: <c>amqp://</c> or <c>amqps://user:password@host:port/vhost</c>
    /// (user, password, port and virtual host optional, percent-encoded; <c>%2f</c> is the <c>/</c> virtual host). It
    /// takes the place of Host, Port, VirtualHost, Username and Password, which may then only supply what it leaves out.
    /// </summary>
    public string? Uri { get; set; }

    public string? Host { get; set; }

    /// <summary>
    /// Further nodes of the same RabbitMQ cluster, <c>host</c> or <c>host:port</c> each: the relay connects to the first
    /// node that answers (Host or the URI's host first, then these in turn) and to the next one when its connection drops.
    /// </summary>
    public string[]? Hosts { get; set; }

    /// <summary>Unset: the URI's port, else 5671 with TLS and 5672 without.</summary>
    public ushort? Port { get; set; }

    /// <summary>Unset: the URI's virtual host, else <c>/</c>.</summary>
    public string? VirtualHost { get; set; }

    /// <summary>Unset: the URI's user, else <c>guest</c>.</summary>
    public string? Username { get; set; }

    /// <summary>Unset: the URI's password, else <c>guest</c>. A secret: never logged.</summary>
    public string? Password { get; set; }

    /// <summary>Unset: TLS for an <c>amqps://</c> URI and for port 5671, none otherwise.</summary>
    public bool? UseTls { get; set; }

    /// <summary>
    /// The name the broker's certificate must carry. Unset: the name of a configured node (Host, the URI's host or
    /// one of Hosts), which is also the name the relay asks for (SNI).
    /// </summary>
    public string? TlsServerName { get; set; }

    /// <summary>
    /// A PEM file with the CA certificate(s) that signed the broker's certificate (a private CA, as Kubernetes
    /// operators and self-run clusters use). Unset: the system's trusted roots.
    /// </summary>
    public string? TlsCaCertificatePath { get; set; }

    /// <summary>A PKCS#12 file (.p12/.pfx) with a client certificate and its key, for brokers that ask for one.</summary>
    public string? TlsClientCertificatePath { get; set; }

    /// <summary>The password of <see cref="TlsClientCertificatePath"/>. A secret: never logged.</summary>
    public string? TlsClientCertificatePassword { get; set; }

    /// <summary>
    /// Classic or Quorum queues for the relay's consumers, delay queues and error queues. Quorum for a cluster.
    /// A queue keeps its type for life: switching an existing virtual host means moving to new queues (docs/operations.md).
    /// </summary>
    public BusQueueType QueueType { get; set; } = BusQueueType.Classic;

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
        if (Transport == BusTransport.RabbitMq)
            foreach (var problem in BrokerConnection.Check(this))
                yield return problem;
        if (Transport != BusTransport.RabbitMq && QueueType == BusQueueType.Quorum)
            yield return new ValidationResult("Bus:QueueType Quorum needs Bus:Transport RabbitMq (the in-memory bus has no queues to replicate).", [nameof(QueueType)]);
        if (IntakeBatchWindow <= TimeSpan.Zero || IntakeBatchWindow > TimeSpan.FromSeconds(10))
            yield return new ValidationResult("Bus:IntakeBatchWindow must be more than 0 and at most 10 seconds.", [nameof(IntakeBatchWindow)]);
    }
}
