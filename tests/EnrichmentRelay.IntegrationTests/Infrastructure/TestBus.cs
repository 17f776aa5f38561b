using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using MassTransit;
using RabbitMQ.Client;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// A producer and a downstream subscriber on the test broker: publishes requests the way .NET
/// producers do (MassTransit) and the way others do (raw JSON), and records every EnrichmentCompleted.
/// </summary>
public sealed class TestBus : IAsyncDisposable
{
    readonly IBusControl bus;
    readonly string virtualHost;
    readonly TestBroker broker;
    public ConcurrentDictionary<Guid, ConcurrentBag<EnrichmentCompleted>> Completions { get; } = new();
    public ConcurrentDictionary<Guid, ConcurrentBag<SelectionEnrichmentCompleted>> SelectionSummaries { get; } = new();
    /// <summary>When each EnrichmentCompleted arrived (copies included): pauses in the flow show here.</summary>
    public ConcurrentQueue<DateTime> CompletionTimes { get; } = new();

    /// <summary>
    /// Completions the broker delivered again because the subscriber's acknowledgement was lost (a broker restart):
    /// copies that the relay did not publish twice.
    /// </summary>
    public int RedeliveredCompletions => redeliveredCompletions;
    int redeliveredCompletions;

    TestBus(IBusControl bus, string virtualHost, TestBroker broker)
    {
        this.bus = bus;
        this.virtualHost = virtualHost;
        this.broker = broker;
    }

    public static async Task<TestBus> StartAsync(string virtualHost, TestBroker? broker = null)
    {
        broker ??= TestBroker.Node;
        TestBus? self = null;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(broker.Nodes[0].Host, broker.Nodes[0].Port, virtualHost, h =>
            {
                h.Username(broker.User);
                h.Password(broker.Password);
                if (broker.Nodes.Count > 1)
                    h.UseCluster(c =>
                    {
                        foreach (var (host, port) in broker.Nodes)
                            c.Node($"{host}:{port}");
                    });
            });
            cfg.ReceiveEndpoint($"it-subscriber-{Guid.NewGuid():N}", e =>
            {
                // Durable, so it outlives a broker restart in the fault tests (each test has its own vhost);
                // on the cluster replicated too, so it outlives the node it was declared on.
                e.Durable = true;
                if (broker.QuorumQueues)
                    e.SetQuorumQueue();
                e.Handler<EnrichmentCompleted>(context =>
                {
                    if (context.ReceiveContext.Redelivered)
                        Interlocked.Increment(ref self!.redeliveredCompletions);
                    self!.Completions.GetOrAdd(context.Message.RequestId, _ => []).Add(context.Message);
                    self.CompletionTimes.Enqueue(DateTime.UtcNow);
                    return Task.CompletedTask;
                });
                e.Handler<SelectionEnrichmentCompleted>(context =>
                {
                    self!.SelectionSummaries.GetOrAdd(context.Message.SelectionId, _ => []).Add(context.Message);
                    return Task.CompletedTask;
                });
            });
        });
        self = new TestBus(bus, virtualHost, broker);
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        return self;
    }

    public Task PublishAsync(EnrichmentRequested request) => bus.Publish(request);

    public Task PublishAsync(SelectionEnrichmentRequested selection) => bus.Publish(selection);

    /// <summary>Raw camelCase JSON to the request exchange, as a producer without MassTransit would send it.</summary>
    public Task PublishRawJsonAsync(IEnumerable<string> jsonBodies) => PublishRawBytesAsync(jsonBodies.Select(Encoding.UTF8.GetBytes));

    /// <summary>Any bytes, labelled application/json, to the request exchange; with <paramref name="messageIds"/>, each as its AMQP message_id.</summary>
    public async Task PublishRawBytesAsync(IEnumerable<byte[]> bodies, IEnumerable<Guid>? messageIds = null)
    {
        await using var connection = await Connect();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        using var ids = messageIds?.GetEnumerator();
        foreach (var body in bodies)
        {
            var properties = new BasicProperties { ContentType = "application/json", Persistent = true };
            if (ids?.MoveNext() == true)
                properties.MessageId = ids.Current.ToString();
            await channel.BasicPublishAsync("enrichment-requested", "", mandatory: false, properties, body);
        }
    }

    /// <summary>How many messages wait in a queue of this test's virtual host.</summary>
    public async Task<uint> QueueLengthAsync(string queue)
    {
        await using var connection = await Connect();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    /// <summary>Whether a queue exists in this test's virtual host (asking for a missing one closes the channel, hence a channel of its own).</summary>
    public async Task<bool> QueueExistsAsync(string queue)
    {
        await using var connection = await Connect();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            await channel.QueueDeclarePassiveAsync(queue);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return false;
        }
    }

    Task<IConnection> Connect() => new ConnectionFactory
    {
        UserName = broker.User,
        Password = broker.Password,
        VirtualHost = virtualHost,
    }.CreateConnectionAsync(broker.Nodes.Select(n => new AmqpTcpEndpoint(n.Host, n.Port)).ToList());

    public static string ToRawJson(EnrichmentRequested request) =>
        JsonSerializer.Serialize(request, new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public int CompletionCount(Guid requestId) => Completions.TryGetValue(requestId, out var bag) ? bag.Count : 0;

    public Task WaitForCompletionsAsync(IEnumerable<Guid> requestIds, TimeSpan deadline)
    {
        var ids = requestIds.ToList();
        // The count is the probe's, so a timeout says how many had completed at the deadline (Last seen).
        return Eventually.ReturnsAsync(() => Task.FromResult(ids.Count(id => CompletionCount(id) > 0)), completed => completed == ids.Count,
            deadline, $"completions of {ids.Count} requests (last seen: how many had one)");
    }

    public async ValueTask DisposeAsync() => await bus.StopAsync();
}
