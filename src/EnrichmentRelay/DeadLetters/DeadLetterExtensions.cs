using EnrichmentRelay.Messaging;
using MassTransit;
using MassTransit.Middleware;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.DeadLetters;

public static class DeadLetterExtensions
{
    public static IHostApplicationBuilder AddDeadLetters(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<DeadLetterReplayer>();
        builder.AddBusEndpointConvention((context, queue, endpoint) =>
        {
            // A poll command is worth nothing after its tick (the next tick polls again): drop it rather than
            // keep it. Every other message is retried, redelivered later, and finally kept as a dead letter.
            if (queue.StartsWith(BusExtensions.PollQueuePrefix, StringComparison.Ordinal))
                endpoint.DiscardFaultedMessages();
            else
                endpoint.UseRetriesThenDeadLetters(context);
        });
        return builder;
    }

    /// <summary>
    /// What happens to a message its consumer fails on: immediate retries (<see cref="BusOptions.RetryIntervals"/>),
    /// then delayed redeliveries
    /// through RabbitMQ delay queues (<see cref="BusOptions.RedeliveryDelays"/>), then a Fault event and a row in
    /// the dead-letter table (or, with the ledger down too, MassTransit's <c>{queue}_error</c> queue).
    /// </summary>
    public static void UseRetriesThenDeadLetters(this IReceiveEndpointConfigurator endpoint, IRegistrationContext context)
    {
        var options = context.GetRequiredService<IOptions<BusOptions>>().Value;
        var logger = context.GetRequiredService<ILoggerFactory>().CreateLogger("EnrichmentRelay.DeadLetters");
        var scopes = context.GetRequiredService<IServiceScopeFactory>();
        var time = context.GetRequiredService<TimeProvider>();
        if (options.Retry.Count > 0)
            endpoint.UseMessageRetry(r =>
            {
                r.Intervals(options.Retry.ToArray());
                // Unreadable bytes stay unreadable: straight to the dead letters.
                r.Ignore(typeof(System.Text.Json.JsonException), typeof(System.Runtime.Serialization.SerializationException));
                r.Ignore<InvalidOperationException>(DelayedRedeliveryFilter.IsUnreadableJson);
            });
        endpoint.ConfigureError(error =>
        {
            // The in-memory transport has no queues to wait in: there a failed message goes straight to the table.
            if (options.Transport == BusTransport.RabbitMq)
                error.UseFilter(new DelayedRedeliveryFilter(options.Redelivery, options.QueueType, logger));
            error.UseFilter(new GenerateFaultFilter());
            error.UseFilter(new DeadLetterFilter(scopes, time, logger));
            error.UseFilter(new ErrorTransportFilter());
        });
    }
}
