using MassTransit;
using MassTransit.RabbitMqTransport;
using MassTransit.RabbitMqTransport.Configuration;
using MassTransit.Transports;
using RabbitMQ.Client;

namespace EnrichmentRelay.Messaging;

/// <summary>
/// Reconnects to the broker when it rejects (basic.nack) a message the relay published, at most once per
/// <see cref="MinimumInterval"/>, so that every channel is a new one. RabbitMQ before 3.12.5 rejects every publish a
/// channel makes to a quorum queue when that channel's first publish to the queue came while the queue's leader was
/// lost: the channel keeps asking the dead node, until that node is back (rabbitmq-server pull request 9221 removed
/// that check). MassTransit publishes again on the same channel, so after the loss of the node leading a subscriber's
/// queue every EnrichmentCompleted was refused for as long as the node stayed down. A new channel asks the queue's
/// current leader.
/// </summary>
/// <remarks>
/// The channel itself is MassTransit's (the bus endpoint's, shared by every publish on <c>IBus</c>), and closing it
/// from outside can leave that endpoint faulted for good; the connection is what MassTransit recovers from by design,
/// as when a node goes away. A reconnect costs a pause of a few seconds in consuming (messages in hand are delivered
/// again; intake knows them by RequestId). A rejection a new channel does not cure (a subscriber's queue full with
/// reject-publish overflow) costs one reconnect per <see cref="MinimumInterval"/>, each logged with its cause.
/// </remarks>
public sealed class RejectedPublishRecovery(Func<Task> reconnect, TimeProvider time, ILogger<RejectedPublishRecovery> logger)
    : IPublishObserver, ISendObserver
{
    /// <summary>
    /// Least time between two reconnects: rejections of publishes already on their way arrive after the first, and a
    /// reconnect made while a lost queue leader is still being replaced may need one more.
    /// </summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(15);

    readonly Lock gate = new();
    DateTimeOffset? lastReconnect;

    /// <summary>The recovery of the relay's bus: closes its broker connection, which MassTransit then opens again.</summary>
    public static RejectedPublishRecovery ForBus(IServiceProvider services) =>
        new(() => CloseBrokerConnectionAsync(services), services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<RejectedPublishRecovery>>());

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Observe(context, exception);

    public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Observe(context, exception);

    Task Observe(SendContext context, Exception exception)
    {
        if (!IsRejectedByBroker(exception))
            return Task.CompletedTask;
        var now = time.GetUtcNow();
        lock (gate)
        {
            if (lastReconnect is { } last && now - last < MinimumInterval)
                return Task.CompletedTask;
            lastReconnect = now;
        }
        logger.LogWarning("The broker rejected a message for {Destination}; reconnecting to it so that the next publishes go out on new " +
                          "channels (RabbitMQ before 3.12.5 rejects every publish of a channel to a quorum queue whose leader was lost just " +
                          "before the channel's first publish to it)", context.DestinationAddress);
        // Not on the publisher's task: the close waits for the broker, and the publisher's own channel goes with it.
        _ = Task.Run(async () =>
        {
            try
            {
                await reconnect();
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Reconnecting to the broker after a rejected publish failed; the next rejection tries again");
            }
        });
        return Task.CompletedTask;
    }

    /// <summary>A basic.nack: the broker took the message and refused it (not a return of an unroutable mandatory message).</summary>
    public static bool IsRejectedByBroker(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
            if (exception is RabbitMQ.Client.Exceptions.PublishException { IsReturn: false })
                return true;
        return false;
    }

    static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

    static async Task CloseBrokerConnectionAsync(IServiceProvider services)
    {
        if (services.GetRequiredService<IBusInstance>().HostConfiguration is not IRabbitMqHostConfiguration host)
            return;
        // No cancellation token for the client: it still holds it when the broker's close-ok arrives, and a token source
        // disposed by then takes the connection down with an error of its own (541, "The CancellationTokenSource has
        // been disposed"). The wait is bounded from outside instead.
        await host.ConnectionContextSupervisor.Send(Pipe.ExecuteAsync<ConnectionContext>(context =>
                context.Connection.CloseAsync(Constants.ReplySuccess, "reconnecting after the broker rejected a publish")), CancellationToken.None)
            .WaitAsync(CloseTimeout);
    }

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PreSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;

    public Task PostSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;
}
