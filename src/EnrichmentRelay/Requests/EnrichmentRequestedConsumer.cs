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

        // Only infrastructure failures (database busy or restarting) reach here: invalid requests
        // are answered with a Rejected completion, never thrown.
        endpoint.UseMessageRetry(r => r.Exponential(8, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300)));
    }
}
