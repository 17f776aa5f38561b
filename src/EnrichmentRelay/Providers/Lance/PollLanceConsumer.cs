using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Polling;
using MassTransit;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>The scheduled consumer: one Lance poll per tick, whichever instance claims it.</summary>
public sealed class PollLanceConsumer(RelayDbContext db, LancePoller poller, TimeProvider time, ILogger<PollLanceConsumer> logger)
    : IConsumer<PollLance>
{
    public const string Schedule = "lance";

    public async Task Consume(ConsumeContext<PollLance> context)
    {
        if (!await PollTicks.TryClaimAsync(db, Schedule, context.Message.Tick, time.GetUtcNow(), context.CancellationToken))
            return;
        try
        {
            await poller.PollAsync(context.CancellationToken);
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Lance poll for tick {Tick} failed", context.Message.Tick);
        }
    }
}

public sealed class PollLanceConsumerDefinition : ConsumerDefinition<PollLanceConsumer>
{
    public PollLanceConsumerDefinition()
    {
        EndpointName = "poll-lance";
        ConcurrentMessageLimit = 1;
    }
}
