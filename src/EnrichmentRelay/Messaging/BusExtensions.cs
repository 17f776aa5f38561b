using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Requests;
using MassTransit;

namespace EnrichmentRelay.Messaging;

public static class BusExtensions
{
    /// <summary>The queues of the scheduled consumers (poll-precept, poll-woodpecker, poll-lance).</summary>
    public const string PollQueuePrefix = "poll-";

    public static IHostApplicationBuilder AddRelayBus(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BusOptions>()
            .BindConfiguration(BusOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>() ?? new BusOptions();

        builder.Services.AddMassTransit(bus =>
        {
            // The endpoint settings name the queue too: without a name they declared a second, unbound queue
            // ("EnrichmentRequested", the default name) beside the documented one.
            bus.AddConsumer<EnrichmentRequestedConsumer, EnrichmentRequestedConsumerDefinition>()
                .Endpoint(e =>
                {
                    e.Name = EnrichmentRequestedConsumerDefinition.QueueName;
                    e.ConcurrentMessageLimit = options.ConcurrentMessageLimit;
                });
            bus.AddConsumer<PollPreceptConsumer, PollPreceptConsumerDefinition>();
            // A switched-off provider has no poller to consume its poll command (and the Development host checks that
            // every consumer can be built): its consumers are not registered at all.
            if (builder.Configuration.GetValue(WoodpeckerOptions.Section + ":Enabled", true))
                bus.AddConsumer<PollWoodpeckerConsumer, PollWoodpeckerConsumerDefinition>();
            if (builder.Configuration.GetValue(LanceOptions.Section + ":Enabled", true))
            {
                bus.AddConsumer<PollLanceConsumer, PollLanceConsumerDefinition>();
                bus.AddConsumer<SelectionEnrichmentRequestedConsumer, SelectionEnrichmentRequestedConsumerDefinition>();
            }

            bus.AddConfigureEndpointsCallback((context, queue, endpoint) =>
            {
                // A poll command is worth nothing after its tick (the next tick polls again): drop it rather than
                // keep it. Every other message is retried, redelivered later, and finally kept as a dead letter.
                if (queue.StartsWith(PollQueuePrefix, StringComparison.Ordinal))
                    endpoint.DiscardFaultedMessages();
                else
                    endpoint.UseRetriesThenDeadLetters(context);
            });

            if (options.Transport == BusTransport.RabbitMq)
            {
                bus.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(options.Host, options.Port, options.VirtualHost, h =>
                    {
                        h.Username(options.Username);
                        h.Password(options.Password);
                        // Publish completes only once the broker has the message (the default; stated
                        // because the outbox marks rows sent on it).
                        h.PublisherConfirmation = true;
                    });
                    cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
            }
        });
        return builder;
    }
}
