using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Polling;
using MassTransit;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>The scheduled consumer: runs one Woodpecker poll per tick, whichever instance claims it.</summary>
public sealed class PollWoodpeckerConsumer(RelayDbContext db, WoodpeckerPoller poller, TimeProvider time, ILogger<PollWoodpeckerConsumer> logger)
    : IConsumer<PollWoodpecker>
{
    public const string Schedule = "woodpecker";

    public async Task Consume(ConsumeContext<PollWoodpecker> context)
    {
        if (!await PollTicks.TryClaimAsync(db, Schedule, context.Message.Tick, time.GetUtcNow(), context.CancellationToken))
            return;
        try
        {
            await poller.PollAsync(context.CancellationToken);
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            // A poll command is worth nothing after its tick: log, and let the next tick try again.
            logger.LogWarning(ex, "Woodpecker poll for tick {Tick} failed", context.Message.Tick);
        }
    }
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
