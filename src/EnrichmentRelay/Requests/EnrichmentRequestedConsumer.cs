using EnrichmentRelay.Contracts;
using MassTransit;

namespace EnrichmentRelay.Requests;

public sealed class EnrichmentRequestedConsumer(EnrichmentIntake intake) : IConsumer<EnrichmentRequested>
{
    public Task Consume(ConsumeContext<EnrichmentRequested> context) =>
        intake.ReceiveAsync(context.Message, context.MessageId, context.CancellationToken);
}

public sealed class EnrichmentRequestedConsumerDefinition : ConsumerDefinition<EnrichmentRequestedConsumer>
{
    /// <summary>Fixed and documented: producers that are not .NET send here directly.</summary>
    public const string QueueName = "enrichment-requested";

    public EnrichmentRequestedConsumerDefinition()
    {
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
    }
}
