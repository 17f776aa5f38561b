using MassTransit;

namespace EnrichmentRelay.Messaging;

public static class BusExtensions
{
    /// <summary>The queues of the scheduled consumers (poll-precept, poll-woodpecker, poll-lance).</summary>
    public const string PollQueuePrefix = "poll-";

    /// <summary>What the features put on the bus, collected until <see cref="AddRelayBus"/> builds it.</summary>
    sealed class BusParts
    {
        public List<Action<IBusRegistrationConfigurator, BusOptions>> Consumers { get; } = [];
        public List<Action<IRegistrationContext, string, IReceiveEndpointConfigurator>> EndpointConventions { get; } = [];
        public bool Built { get; set; }
    }

    static BusParts Parts(IHostApplicationBuilder builder)
    {
        if (!builder.Properties.TryGetValue(typeof(BusParts), out var parts))
            builder.Properties[typeof(BusParts)] = parts = new BusParts();
        return (BusParts)parts;
    }

    /// <summary>A feature's consumers, registered by the feature's own <c>AddX</c>; before <see cref="AddRelayBus"/>.</summary>
    public static IHostApplicationBuilder AddBusConsumers(this IHostApplicationBuilder builder, Action<IBusRegistrationConfigurator, BusOptions> add)
    {
        var parts = Parts(builder);
        if (parts.Built)
            throw new InvalidOperationException("Consumers are registered before AddRelayBus() builds the bus.");
        parts.Consumers.Add(add);
        return builder;
    }

    /// <summary>Something every receive endpoint gets (by its queue name), such as the error pipe; before <see cref="AddRelayBus"/>.</summary>
    public static IHostApplicationBuilder AddBusEndpointConvention(this IHostApplicationBuilder builder,
        Action<IRegistrationContext, string, IReceiveEndpointConfigurator> configure)
    {
        var parts = Parts(builder);
        if (parts.Built)
            throw new InvalidOperationException("Endpoint conventions are registered before AddRelayBus() builds the bus.");
        parts.EndpointConventions.Add(configure);
        return builder;
    }

    /// <summary>The bus (RabbitMQ or in-memory) with every consumer the features registered; call it after them.</summary>
    public static IHostApplicationBuilder AddRelayBus(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BusOptions>()
            .BindConfiguration(BusOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(BusOptions.Section).Get<BusOptions>() ?? new BusOptions();
        var parts = Parts(builder);
        parts.Built = true;

        builder.Services.AddMassTransit(bus =>
        {
            foreach (var add in parts.Consumers)
                add(bus, options);
            bus.AddConfigureEndpointsCallback((context, queue, endpoint) =>
            {
                foreach (var configure in parts.EndpointConventions)
                    configure(context, queue, endpoint);
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
