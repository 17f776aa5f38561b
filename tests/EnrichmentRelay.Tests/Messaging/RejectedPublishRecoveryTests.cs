using EnrichmentRelay.Contracts;
using EnrichmentRelay.Messaging;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using PublishException = RabbitMQ.Client.Exceptions.PublishException;

namespace EnrichmentRelay.Tests.Messaging;

/// <summary>
/// A publish the broker rejects makes the relay reconnect, once per <see cref="RejectedPublishRecovery.MinimumInterval"/>;
/// no other failure does. The broker side (RabbitMQ 3.10 rejecting every publish of such a channel) is the cluster
/// test's, the reconnect itself FaultTests'.
/// </summary>
public sealed class RejectedPublishRecoveryTests
{
    static readonly Uri CompletedExchange = new("rabbitmq://broker/vhost/EnrichmentRelay.Contracts:EnrichmentCompleted");

    readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 21, 0, 0, TimeSpan.Zero));
    readonly FakeLogger<RejectedPublishRecovery> logger = new();
    readonly RejectedPublishRecovery recovery;
    int reconnects;
    TaskCompletionSource reconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RejectedPublishRecoveryTests() => recovery = new RejectedPublishRecovery(() =>
    {
        Interlocked.Increment(ref reconnects);
        reconnected.TrySetResult();
        return Task.CompletedTask;
    }, time, logger);

    static Exception Nack() => new RabbitMqConnectionException("BasicPublishAsync failed", new PublishException(7, isReturn: false));

    static T Context<T>() where T : class => Fake.Of<T>(new() { ["DestinationAddress"] = CompletedExchange });

    Task PublishFaulted(Exception exception) => recovery.PublishFault(Context<PublishContext<EnrichmentCompleted>>(), exception);

    /// <summary>Reconnects announced so far: the warning is written before the reconnect starts, on the faulting publish's own call.</summary>
    int Announced => logger.Collector.GetSnapshot().Count(r => r.Level == LogLevel.Warning);

    [Fact]
    public void OnlyANackIsARejection()
    {
        Assert.True(RejectedPublishRecovery.IsRejectedByBroker(Nack()));
        Assert.True(RejectedPublishRecovery.IsRejectedByBroker(new PublishException(1, isReturn: false)));
        // A return is an unroutable mandatory message, not the broker refusing one it routed.
        Assert.False(RejectedPublishRecovery.IsRejectedByBroker(new MessageReturnedException("returned", new PublishException(1, isReturn: true))));
        Assert.False(RejectedPublishRecovery.IsRejectedByBroker(new RabbitMqConnectionException("Operation interrupted", new IOException("reset"))));
        Assert.False(RejectedPublishRecovery.IsRejectedByBroker(new OperationCanceledException()));
        Assert.False(RejectedPublishRecovery.IsRejectedByBroker(null));
    }

    [Fact]
    public async Task ARejectedPublishOrSendReconnects()
    {
        await PublishFaulted(Nack());
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, Announced);
        Assert.Contains(CompletedExchange.ToString(), logger.Collector.LatestRecord.Message);

        time.Advance(RejectedPublishRecovery.MinimumInterval);
        reconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await recovery.SendFault(Context<SendContext<EnrichmentCompleted>>(), Nack());
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, Volatile.Read(ref reconnects));
    }

    [Fact]
    public async Task OtherPublishFaultsDoNotReconnect()
    {
        await PublishFaulted(new RabbitMqConnectionException("Operation interrupted",
            new AlreadyClosedException(new ShutdownEventArgs(ShutdownInitiator.Peer, 320, "CONNECTION_FORCED"))));
        await PublishFaulted(new MessageReturnedException("returned", new PublishException(2, isReturn: true)));
        await PublishFaulted(new OperationCanceledException());

        Assert.Equal(0, Announced);
        Assert.Equal(0, Volatile.Read(ref reconnects));
    }

    [Fact]
    public async Task RejectionsWithinTheMinimumIntervalReconnectOnce()
    {
        // Many publishes were on their way when the broker started rejecting: one reconnect for all of them.
        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PublishFaulted(Nack())));
        time.Advance(RejectedPublishRecovery.MinimumInterval - TimeSpan.FromMilliseconds(1));
        await PublishFaulted(Nack());
        Assert.Equal(1, Announced);

        time.Advance(TimeSpan.FromMilliseconds(1));
        await PublishFaulted(Nack());
        Assert.Equal(2, Announced);
        await Eventually(() => Volatile.Read(ref reconnects) == 2);
    }

    [Fact]
    public async Task AFailedReconnectIsLoggedAndTheNextRejectionTriesAgain()
    {
        var attempts = 0;
        var failing = new RejectedPublishRecovery(() =>
        {
            Interlocked.Increment(ref attempts);
            throw new InvalidOperationException("no connection");
        }, time, logger);

        await failing.PublishFault(Context<PublishContext<EnrichmentCompleted>>(), Nack());
        await Eventually(() => logger.Collector.GetSnapshot().Any(r => r.Exception is InvalidOperationException));
        time.Advance(RejectedPublishRecovery.MinimumInterval);
        await failing.PublishFault(Context<PublishContext<EnrichmentCompleted>>(), Nack());
        await Eventually(() => Volatile.Read(ref attempts) == 2);
    }

    /// <summary>The reconnect runs on a task of its own: waits for what it did, with a deadline.</summary>
    static async Task Eventually(Func<bool> done)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < until, "gave up after 10 s");
            await Task.Delay(10);
        }
    }
}
