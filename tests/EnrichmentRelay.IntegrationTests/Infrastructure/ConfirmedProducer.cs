using System.Text;
using EnrichmentRelay.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// A producer without MassTransit that keeps working through the loss of a cluster node: requests as raw JSON to the
/// request exchange on one channel with publisher confirms, a new channel once a publish on it fails (a new connection
/// once the old one is gone). A new channel also after the broker rejected a publish: RabbitMQ before 3.12.5 rejects
/// every publish of a channel to a quorum queue whose leader was lost just before the channel's first publish to it,
/// until the lost node is back (the relay's RejectedPublishRecovery does the same for its own publishes).
/// </summary>
public sealed class ConfirmedProducer(TestBroker broker, string virtualHost) : IAsyncDisposable
{
    readonly SemaphoreSlim gate = new(1, 1);
    IConnection? connection;
    IChannel? channel;

    /// <summary>Channels given up because the broker rejected a publish on them.</summary>
    public int RejectedChannels { get; private set; }

    int confirmed, awaiting;

    /// <summary>Publishes the broker confirmed so far.</summary>
    public int Confirmed => Volatile.Read(ref confirmed);

    /// <summary>Where the producer stands: publishes the broker confirmed, and those still waiting for its answer.</summary>
    public override string ToString() =>
        $"producer: {Confirmed} publishes confirmed, {Volatile.Read(ref awaiting)} awaiting the broker's confirm, {RejectedChannels} channels given up after a rejection";

    /// <summary>Completes once the broker confirmed the request; throws when it did not (the caller sends it again).</summary>
    public async Task PublishAsync(EnrichmentRequested request)
    {
        var current = await ChannelAsync();
        Interlocked.Increment(ref awaiting);
        try
        {
            await current.BasicPublishAsync("enrichment-requested", "", mandatory: false,
                new BasicProperties { ContentType = "application/json", Persistent = true }, Encoding.UTF8.GetBytes(TestBus.ToRawJson(request)));
            Interlocked.Increment(ref confirmed);
        }
        catch (Exception ex)
        {
            await GiveUpAsync(current, rejected: ex is PublishException { IsReturn: false });
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref awaiting);
        }
    }

    async Task<IChannel> ChannelAsync()
    {
        await gate.WaitAsync();
        try
        {
            if (connection is not { IsOpen: true })
            {
                if (connection is not null)
                    await connection.DisposeAsync();
                channel = null;
                // No automatic recovery: a lost connection is replaced here, on the next publish, by one to a node still up.
                connection = await new ConnectionFactory
                {
                    UserName = broker.User,
                    Password = broker.Password,
                    VirtualHost = virtualHost,
                    AutomaticRecoveryEnabled = false,
                }.CreateConnectionAsync(broker.Nodes.Select(n => new AmqpTcpEndpoint(n.Host, n.Port)).ToList());
            }
            return channel ??= await connection.CreateChannelAsync(new CreateChannelOptions(
                publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Closes the channel a publish failed on, unless a concurrent publish did so already.</summary>
    async Task GiveUpAsync(IChannel failed, bool rejected)
    {
        await gate.WaitAsync();
        try
        {
            if (channel != failed)
                return;
            channel = null;
            if (rejected)
                RejectedChannels++;
            await failed.DisposeAsync();
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (channel is not null)
            await channel.DisposeAsync();
        if (connection is not null)
            await connection.DisposeAsync();
        gate.Dispose();
    }
}
