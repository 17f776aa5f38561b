using System.Runtime.Serialization;
using System.Text.Json;
using EnrichmentRelay.Messaging;
using MassTransit;
using MassTransit.RabbitMqTransport;
using RabbitMQ.Client;

namespace EnrichmentRelay.DeadLetters;

/// <summary>
/// The second stage of a consumer's retries, after its immediate in-memory ones: the message goes back to
/// RabbitMQ to wait in a delay queue, then returns to its own queue. The broker has no delayed-message
/// plugin, so the wait is plain RabbitMQ: a queue per delay with a message TTL and a dead-letter route back
/// to the consumer's queue (<c>{queue}_delay_{delay}</c>). Once every delay is used up, the rest of the error
/// pipe stores the message as a dead letter. With quorum queues (<see cref="BusQueueType.Quorum"/>) the delay queues
/// are quorum queues too (<c>{queue}_delay_{delay}_quorum</c>), replicated like the queue they return to.
/// </summary>
/// <remarks>
/// Runs in MassTransit's error pipe, so it sees the message exactly as received and publishes it on the
/// consumer's own channel with a broker confirm; the original is acknowledged only after that. A crash in
/// between leaves both copies, which intake recognises by RequestId.
/// </remarks>
public sealed class DelayedRedeliveryFilter(IReadOnlyList<TimeSpan> delays, BusQueueType queueType, ILogger logger) : IFilter<ExceptionReceiveContext>
{
    /// <summary>How many delayed redeliveries a message has had; set by this filter, read on the next failure.</summary>
    public const string CountHeader = "x-relay-redeliveries";

    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        var done = Redeliveries(context);
        if (done >= delays.Count || IsUnreadable(context.Exception)
            || !context.TryGetPayload<ChannelContext>(out var channel)
            || !context.TryGetPayload<RabbitMqBasicConsumeContext>(out var received))
        {
            // Out of redeliveries, unreadable (waiting will not fix the bytes), or not on RabbitMQ.
            await next.Send(context);
            return;
        }

        var queue = DeadLetterQueues.NameOf(context.InputAddress);
        var delay = delays[done];
        var delayQueue = DelayQueueName(queue, delay, queueType);
        // A time limit of its own, not the receive's token: a message that fails while the relay stops is still
        // parked for its retry, rather than turned into a dead letter by the shutdown.
        using var parking = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            // Declared on use: idempotent, and the delay and queue type are in the name, so a changed setting never conflicts.
            await channel.QueueDeclare(delayQueue, durable: true, exclusive: false, autoDelete: false, DelayQueueArguments(queue, delay, queueType), parking.Token);

            var properties = new BasicProperties(received.Properties)
            {
                Headers = new Dictionary<string, object?>(received.Properties.Headers ?? new Dictionary<string, object?>()),
                Persistent = true,
            };
            properties.Headers[CountHeader] = done + 1;
            await channel.BasicPublishAsync("", delayQueue, mandatory: true, properties, context.GetBody(), awaitAck: true, parking.Token);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not park message {MessageId} of {Queue} for a delayed redelivery; storing it as a dead letter",
                context.GetMessageId(), queue);
            await next.Send(context);
            return;
        }
        logger.LogWarning("Message {MessageId} of {Queue} failed ({ExceptionType}: {Reason}); delayed redelivery {Redelivery} of {Redeliveries} in {Delay}",
            context.GetMessageId(), queue, context.Exception.GetType().Name, context.Exception.Message, done + 1, delays.Count, delay);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("delayedRedelivery");

    public static string DelayQueueName(string queue, TimeSpan delay, BusQueueType queueType = BusQueueType.Classic) =>
        (delay.TotalMilliseconds % 1000 == 0 ? $"{queue}_delay_{(long)delay.TotalSeconds}s" : $"{queue}_delay_{(long)delay.TotalMilliseconds}ms")
        + (queueType == BusQueueType.Quorum ? "_quorum" : "");

    /// <summary>A message waits out the TTL, then the broker dead-letters it back to <paramref name="queue"/>.</summary>
    public static Dictionary<string, object> DelayQueueArguments(string queue, TimeSpan delay, BusQueueType queueType)
    {
        var arguments = new Dictionary<string, object>
        {
            ["x-message-ttl"] = (long)delay.TotalMilliseconds,
            ["x-dead-letter-exchange"] = "",
            ["x-dead-letter-routing-key"] = queue,
        };
        if (queueType == BusQueueType.Quorum)
        {
            arguments["x-queue-type"] = "quorum";
            // A quorum queue dead-letters at most once by default: a message expiring while a node fails could be
            // dropped. At-least-once (RabbitMQ 3.10+) keeps it until the queue it returns to has confirmed it, and
            // needs reject-publish overflow (no length limit is set, so nothing is ever rejected).
            arguments["x-dead-letter-strategy"] = "at-least-once";
            arguments["x-overflow"] = "reject-publish";
        }
        return arguments;
    }

    /// <summary>
    /// The count this filter wrote, as the message brings it back. Anyone can set the header, so whatever it holds is
    /// clamped to 0..int.MaxValue: a negative or overflowing value never indexes outside the delay list.
    /// </summary>
    public static int Redeliveries(ReceiveContext context) =>
        context.TransportHeaders.TryGetHeader(CountHeader, out var value) ? CountFrom(value) : 0;

    internal static int CountFrom(object? value)
    {
        long? count = value switch
        {
            int n => n,
            long n => n,
            short n => n,
            byte n => n,
            sbyte n => n,
            uint n => n,
            ushort n => n,
            ulong n => n > long.MaxValue ? long.MaxValue : (long)n,
            string text when long.TryParse(text, out var n) => n,
            byte[] bytes when long.TryParse(System.Text.Encoding.UTF8.GetString(bytes), out var n) => n,
            _ => null,
        };
        return count is { } c ? (int)Math.Clamp(c, 0, int.MaxValue) : 0;
    }

    /// <summary>A body that cannot be read will not read better later.</summary>
    static bool IsUnreadable(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
            if (ex is SerializationException or JsonException or System.Text.DecoderFallbackException || IsUnreadableJson(ex))
                return true;
        return false;
    }

    /// <summary>
    /// System.Text.Json's own "cannot read this" for a body that is valid JSON but no message: MassTransit reads a
    /// raw <c>null</c> that way.
    /// </summary>
    public static bool IsUnreadableJson(Exception ex) => ex is InvalidOperationException { Source: "System.Text.Json" };
}
