using EnrichmentRelay.Ledger;
using EnrichmentRelay.Polling;
using MassTransit;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>The scheduled consumer: runs one Woodpecker poll per tick, whichever instance claims it.</summary>
public sealed class PollWoodpeckerConsumer(RelayDbContext db, WoodpeckerPoller poller, TimeProvider time, RelayMetrics metrics,
    ILogger<PollWoodpeckerConsumer> logger) : IConsumer<PollWoodpecker>
{
    public const string Schedule = "woodpecker";

    public Task Consume(ConsumeContext<PollWoodpecker> context) =>
        PollTicks.RunOnceAsync(db, Schedule, context.Message.Tick, time, metrics, logger, poller.PollAsync, context.CancellationToken);
}

public sealed class PollWoodpeckerConsumerDefinition : ConsumerDefinition<PollWoodpeckerConsumer>
{
    public PollWoodpeckerConsumerDefinition()
    {
        EndpointName = "poll-woodpecker";
        // Polls of one provider never overlap within an instance; the tick claim covers other instances.
        ConcurrentMessageLimit = 1;
    }
}
