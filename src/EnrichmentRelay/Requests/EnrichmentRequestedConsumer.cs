using EnrichmentRelay.Contracts;
using EnrichmentRelay.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Requests;

/// <summary>
/// Takes requests off the bus in batches: one ledger transaction per batch instead of one per request, which is
/// what lets intake keep up with the broker (see docs/performance.md).
/// </summary>
public sealed class EnrichmentRequestedConsumer(EnrichmentIntake intake) : IConsumer<Batch<EnrichmentRequested>>
{
    public Task Consume(ConsumeContext<Batch<EnrichmentRequested>> context) =>
        intake.ReceiveBatchAsync(context.Message.Select(m => new IncomingRequest(m.Message, m.MessageId, TraceParentOf(m))).ToList(),
            context.CancellationToken);

    /// <summary>
    /// The context each message was published in (MassTransit carries it as a W3C traceparent in <c>MT-Activity-Id</c>):
    /// a batch is consumed under one span, but each request belongs to the trace of the message that brought it.
    /// </summary>
    static string? TraceParentOf(ConsumeContext message) =>
        // Anyone can set the header (a producer that is not MassTransit): only a well-formed context is kept.
        message.ReceiveContext.TransportHeaders.Get<string>("MT-Activity-Id") is { } header
        && System.Diagnostics.ActivityContext.TryParse(header, null, out _) ? header : null;
}

public sealed class EnrichmentRequestedConsumerDefinition : ConsumerDefinition<EnrichmentRequestedConsumer>
{
    /// <summary>Fixed and documented: producers that are not .NET send here directly.</summary>
    public const string QueueName = "enrichment-requested";

    readonly BusOptions options;

    public EnrichmentRequestedConsumerDefinition(IOptions<BusOptions> options)
    {
        this.options = options.Value;
        EndpointName = QueueName;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<EnrichmentRequestedConsumer> consumer,
        IRegistrationContext context)
    {
        // Producers that are not .NET publish plain camelCase JSON; isDefault also takes messages
        // with no content type. MassTransit's own envelope keeps working beside it.
        endpoint.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
        // Retries and dead letters: see BusExtensions. Only infrastructure failures (database busy or
        // restarting) need them here: invalid requests are answered with a Rejected completion, never thrown.

        // A batch goes when it is full or when its first request has waited the window; a message that cannot be
        // read never joins one (it is kept as a dead letter by itself).
        consumer.Options<BatchOptions>(batch => batch
            .SetMessageLimit(options.IntakeBatchSize)
            .SetTimeLimit(options.IntakeBatchWindow)
            .SetConcurrencyLimit(options.IntakeConcurrentBatches));
    }
}
