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
    public ConcurrentDictionary<Guid, ConcurrentBag<EnrichmentCompleted>> Completions { get; } = new();
    public ConcurrentDictionary<Guid, ConcurrentBag<SelectionEnrichmentCompleted>> SelectionSummaries { get; } = new();

    /// <summary>
    /// Completions the broker delivered again because the subscriber's acknowledgement was lost (a broker restart):
    /// copies that the relay did not publish twice.
    /// </summary>
    public int RedeliveredCompletions => redeliveredCompletions;
    int redeliveredCompletions;

    TestBus(IBusControl bus, string virtualHost)
    {
        this.bus = bus;
        this.virtualHost = virtualHost;
    }

    public static async Task<TestBus> StartAsync(string virtualHost)
    {
        TestBus? self = null;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(TestEnvironment.RabbitHost, TestEnvironment.RabbitPort, virtualHost, h =>
            {
                h.Username(TestEnvironment.RabbitUser);
                h.Password(TestEnvironment.RabbitPassword);
            });
            cfg.ReceiveEndpoint($"it-subscriber-{Guid.NewGuid():N}", e =>
            {
                // Durable, so it outlives a broker restart in the fault tests (each test has its own vhost).
                e.Durable = true;
                e.Handler<EnrichmentCompleted>(context =>
                {
                    if (context.ReceiveContext.Redelivered)
                        Interlocked.Increment(ref self!.redeliveredCompletions);
                    self!.Completions.GetOrAdd(context.Message.RequestId, _ => []).Add(context.Message);
                    return Task.CompletedTask;
                });
                e.Handler<SelectionEnrichmentCompleted>(context =>
                {
                    self!.SelectionSummaries.GetOrAdd(context.Message.SelectionId, _ => []).Add(context.Message);
                    return Task.CompletedTask;
                });
            });
        });
        self = new TestBus(bus, virtualHost);
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
        HostName = TestEnvironment.RabbitHost,
        Port = TestEnvironment.RabbitPort,
        UserName = TestEnvironment.RabbitUser,
        Password = TestEnvironment.RabbitPassword,
        VirtualHost = virtualHost,
    }.CreateConnectionAsync();

    public static string ToRawJson(EnrichmentRequested request) =>
        JsonSerializer.Serialize(request, new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public int CompletionCount(Guid requestId) => Completions.TryGetValue(requestId, out var bag) ? bag.Count : 0;

    public Task WaitForCompletionsAsync(IEnumerable<Guid> requestIds, TimeSpan deadline)
    {
        var ids = requestIds.ToList();
        return Eventually.TrueAsync(() => ids.All(id => CompletionCount(id) > 0), deadline,
            $"completions of {ids.Count} requests (have {ids.Count(id => CompletionCount(id) > 0)})");
    }

    public async ValueTask DisposeAsync() => await bus.StopAsync();
}
