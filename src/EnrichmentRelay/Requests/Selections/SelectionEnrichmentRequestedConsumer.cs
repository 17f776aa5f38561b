using EnrichmentRelay.Contracts;
using MassTransit;

namespace EnrichmentRelay.Requests.Selections;

public sealed class SelectionEnrichmentRequestedConsumer(SelectionIntake selections) : IConsumer<SelectionEnrichmentRequested>
{
    public Task Consume(ConsumeContext<SelectionEnrichmentRequested> context) =>
        selections.ReceiveAsync(context.Message, context.CancellationToken);
}

public sealed class SelectionEnrichmentRequestedConsumerDefinition : ConsumerDefinition<SelectionEnrichmentRequestedConsumer>
{
    public const string QueueName = "selection-enrichment-requested";

    public SelectionEnrichmentRequestedConsumerDefinition()
    {
        EndpointName = QueueName;
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<SelectionEnrichmentRequestedConsumer> consumer, IRegistrationContext context)
    {
        endpoint.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
        // Lance unreachable or busy: the consumer throws and the bulk call is retried (see BusExtensions),
        // which Lance's reuse of records makes free.
    }
}
