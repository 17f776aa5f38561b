using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Outbox;

public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>
    /// Rows claimed per round; they are published concurrently, each confirmed by the broker. Also the most messages
    /// one instance has published and not yet recorded as sent: what a crash of it could publish twice.
    /// </summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;

    /// <summary>How often to look for rows when nothing has signalled (other instances, rows left by a crash).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the rows of a round are the claiming instance's alone. A publish not confirmed within half of it is
    /// given up (its row goes back to the queue), so no publish outlives its lease; rows of an instance that died are
    /// taken over by another once its lease runs out.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:02", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The largest message body published. RabbitMQ closes the channel of a message over its <c>max_message_size</c>
    /// (16 MiB by default since 4.0, 128 MiB before), so a larger row goes to the dead letters instead.
    /// </summary>
    [Range(1024, 512 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;
}
