using EnrichmentRelay.Ledger;
using EnrichmentRelay.Polling;
using MassTransit;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>The scheduled consumer: one Lance poll per tick, whichever instance claims it.</summary>
public sealed class PollLanceConsumer(RelayDbContext db, LancePoller poller, TimeProvider time, RelayMetrics metrics,
    ILogger<PollLanceConsumer> logger) : IConsumer<PollLance>
{
    public const string Schedule = "lance";

    public Task Consume(ConsumeContext<PollLance> context) =>
        PollTicks.RunOnceAsync(db, Schedule, context.Message.Tick, time, metrics, logger, poller.PollAsync, context.CancellationToken);
}

public sealed class PollLanceConsumerDefinition : ConsumerDefinition<PollLanceConsumer>
{
    public PollLanceConsumerDefinition()
    {
        EndpointName = "poll-lance";
        ConcurrentMessageLimit = 1;
    }
}
