using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace EnrichmentRelay.Benchmarks.Load;

/// <summary>
/// A subscriber of completions: its own queue bound to a fanout exchange, each body read for its request id
/// (in a MassTransit envelope or bare) and stamped on the <see cref="Timeline"/>.
/// </summary>
public sealed class CompletionListener : IAsyncDisposable
{
    /// <summary>Where the relay publishes EnrichmentCompleted (MassTransit's message-type exchange).</summary>
    public const string RelayExchange = "EnrichmentRelay.Contracts:EnrichmentCompleted";

    readonly IConnection connection;
    readonly IChannel channel;
    long bytes, messages;

    public Timeline? Timeline { get; set; }
    /// <summary>When set, each completion's body is kept here by its request id (the last one, for a repeat): for sections that read outcomes.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<Guid, byte[]>? Bodies { get; set; }
    public double AverageBodyBytes => Interlocked.Read(ref messages) is var n and > 0 ? Interlocked.Read(ref bytes) / (double)n : 0;

    CompletionListener(IConnection connection, IChannel channel)
    {
        this.connection = connection;
        this.channel = channel;
    }

    public static async Task<CompletionListener> StartAsync(ConnectionFactory factory, string exchange)
    {
        factory.ConsumerDispatchConcurrency = 1;
        var connection = await factory.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        // The same declaration MassTransit makes, so whichever side declares first, both agree.
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        var queue = (await channel.QueueDeclareAsync($"bench-subscriber-{Guid.NewGuid():N}", durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, exchange, "");
        await channel.BasicQosAsync(0, 1000, false);
        var listener = new CompletionListener(connection, channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            listener.OnDelivery(delivery.Body.Span);
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        return listener;
    }

    void OnDelivery(ReadOnlySpan<byte> body)
    {
        Interlocked.Add(ref bytes, body.Length);
        Interlocked.Increment(ref messages);
        if (RequestIdOf(body) is { } requestId)
        {
            if (Bodies is { } bodies)
                bodies[requestId] = body.ToArray();
            Timeline?.Completed(requestId);
        }
    }

    /// <summary>
    /// The last string "requestId" in the body: in a MassTransit envelope the message comes after the headers
    /// (which may carry a request id of their own), and a bare body has only the one.
    /// </summary>
    public static Guid? RequestIdOf(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        Guid? found = null;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("requestId"u8))
                    continue;
                if (reader.Read() && reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var id))
                    found = id;
            }
        }
        catch (JsonException)
        {
            return null; // not JSON: nobody's completion
        }
        return found;
    }

    public async ValueTask DisposeAsync()
    {
        await channel.DisposeAsync();
        await connection.DisposeAsync();
    }

    public static string Describe(ReadOnlySpan<byte> body) => Encoding.UTF8.GetString(body);
}
