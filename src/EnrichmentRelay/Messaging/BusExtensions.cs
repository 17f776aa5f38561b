using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Requests;
using MassTransit;

namespace EnrichmentRelay.Messaging;

public static class BusExtensions
{
    public static IHostApplicationBuilder AddRelayBus(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BusOptions>()
            .BindConfiguration(BusOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>() ?? new BusOptions();

        builder.Services.AddMassTransit(bus =>
        {
            bus.AddConsumer<EnrichmentRequestedConsumer, EnrichmentRequestedConsumerDefinition>()
                .Endpoint(e => e.ConcurrentMessageLimit = options.ConcurrentMessageLimit);
            bus.AddConsumer<PollWoodpeckerConsumer, PollWoodpeckerConsumerDefinition>();
            bus.AddConsumer<PollPreceptConsumer, PollPreceptConsumerDefinition>();
            bus.AddConsumer<PollLanceConsumer, PollLanceConsumerDefinition>();
            if (builder.Configuration.GetValue(LanceOptions.Section + ":Enabled", true))
                bus.AddConsumer<SelectionEnrichmentRequestedConsumer, SelectionEnrichmentRequestedConsumerDefinition>();

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
