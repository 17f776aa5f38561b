using System.Security.Authentication;
using MassTransit;
using Microsoft.Extensions.Options;

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
        builder.Services.AddSingleton(RejectedPublishRecovery.ForBus);

        builder.Services.AddMassTransit(bus =>
        {
            foreach (var add in parts.Consumers)
                add(bus, options);
            bus.AddConfigureEndpointsCallback((context, queue, endpoint) =>
            {
                // Replicated over the cluster; MassTransit gives the _error and _skipped queues the same arguments.
                if (options.QueueType == BusQueueType.Quorum && endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                    rabbit.SetQuorumQueue();
                foreach (var configure in parts.EndpointConventions)
                    configure(context, queue, endpoint);
            });

            if (options.Transport == BusTransport.RabbitMq)
            {
                bus.UsingRabbitMq((context, cfg) =>
                {
                    var validated = context.GetRequiredService<IOptions<BusOptions>>().Value;
                    var logger = context.GetRequiredService<ILoggerFactory>().CreateLogger("EnrichmentRelay.Messaging.Broker");
                    var broker = BrokerConnection.From(validated);
                    cfg.ConnectTo(broker, logger);
                    logger.LogInformation("RabbitMQ at {Broker}, {QueueType} queues", broker, validated.QueueType);
                    // A publish the broker rejects makes the relay reconnect: see RejectedPublishRecovery (RabbitMQ before 3.12.5).
                    var recovery = context.GetRequiredService<RejectedPublishRecovery>();
                    cfg.ConnectPublishObserver(recovery);
                    cfg.ConnectSendObserver(recovery);
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

    /// <summary>The broker's node(s), credentials and TLS, as <see cref="BrokerConnection"/> resolved them.</summary>
    static void ConnectTo(this IRabbitMqBusFactoryConfigurator cfg, BrokerConnection broker, ILogger logger)
    {
        var first = broker.Nodes[0];
        cfg.Host(first.Host, first.Port, broker.VirtualHost, h =>
        {
            h.Username(broker.Username);
            h.Password(broker.Password);
            // Publish completes only once the broker has the message (the default; stated because the outbox marks
            // rows sent on it).
            h.PublisherConfirmation = true;
            if (broker.Nodes.Count > 1)
            {
                // Each new connection goes to the next node in turn, so a lost node is left for the next one.
                h.UseCluster(cluster =>
                {
                    foreach (var node in broker.Nodes)
                        cluster.Node(node.ToString());
                });
            }
            if (broker.UseTls)
            {
                h.UseSsl(tls =>
                {
                    tls.Protocol = SslProtocols.Tls12 | SslProtocols.Tls13;
                    tls.ServerName = broker.TlsServerName ?? first.Host;
                    tls.CertificateValidationCallback = new BrokerCertificateCheck(broker.TlsCaCertificates, broker.AcceptedServerNames, logger).Validate;
                    if (broker.TlsClientCertificate is { } certificate)
                        tls.Certificate = certificate;
                });
            }
        });
    }
}
