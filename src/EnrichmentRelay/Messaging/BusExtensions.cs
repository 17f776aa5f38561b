using System.Security.Authentication;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Requests;
using MassTransit;
using Microsoft.Extensions.Options;

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
        builder.Services.AddSingleton(RejectedPublishRecovery.ForBus);

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
                // Replicated over the cluster; MassTransit gives the _error and _skipped queues the same arguments.
                if (options.QueueType == BusQueueType.Quorum && endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                    rabbit.SetQuorumQueue();
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
