using System.Text;
using Microsoft.Extensions.Configuration;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace EnrichmentRelay.Benchmarks.Baselines;

/// <summary>
/// The end-to-end baseline's middle hop, in a process of its own like the relay: consume a request, publish a
/// reply of the completion's size (persistent, confirmed), then ack, with as many messages in hand as the relay's
/// intake. What the broker and one process hop cost with no ledger and no provider: the floor for the relay.
/// </summary>
public static class Republisher
{
    public const string RequestExchange = "baseline-requested";
    public const string ReplyExchange = "baseline-completed";

    public static async Task<int> RunAsync(string[] args)
    {
        var config = new ConfigurationBuilder().AddCommandLine(args).Build();
        var factory = new ConnectionFactory
        {
            HostName = config["host"]!,
            Port = int.Parse(config["port"]!),
            UserName = config["user"]!,
            Password = config["password"]!,
            VirtualHost = config["vhost"]!,
            ConsumerDispatchConcurrency = ushort.Parse(config["concurrency"] ?? "32"),
        };
        var replyBytes = int.Parse(config["reply-bytes"] ?? "1200");
        var prefetch = ushort.Parse(config["prefetch"] ?? "256");

        await using var connection = await factory.CreateConnectionAsync();
        // Confirms on a channel of their own: awaiting one inside a delivery on the consuming channel never completes.
        await using var publisher = await connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
            outstandingPublisherConfirmationsRateLimiter: new ThrottlingRateLimiter(1024)));
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(RequestExchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        await channel.ExchangeDeclareAsync(ReplyExchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        await channel.QueueDeclareAsync(RequestExchange, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(RequestExchange, RequestExchange, "");
        await channel.BasicQosAsync(0, prefetch, false);

        var properties = new BasicProperties { ContentType = "application/json", Persistent = true };
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var requestId = Load.CompletionListener.RequestIdOf(delivery.Body.Span);
            await publisher.BasicPublishAsync(ReplyExchange, "", mandatory: false, properties, Reply(requestId, replyBytes));
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(RequestExchange, autoAck: false, consumer);
        Console.WriteLine("ready");

        // The driver stops this process with SIGTERM.
        var stop = new TaskCompletionSource();
        using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        await stop.Task;
        return 0;
    }

    /// <summary>A body of exactly <paramref name="size"/> bytes (when it fits) carrying the request id.</summary>
    public static byte[] Reply(Guid? requestId, int size)
    {
        var head = $"{{\"requestId\":\"{requestId}\",\"outcome\":\"found\",\"pad\":\"";
        var pad = Math.Max(0, size - head.Length - 2);
        return Encoding.UTF8.GetBytes(head + new string('x', pad) + "\"}");
    }
}
