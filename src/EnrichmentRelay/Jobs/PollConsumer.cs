using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Polling;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// The one scheduled consumer, for every provider's poll command: it claims the tick (one poll per provider per tick
/// across instances) and runs <see cref="JobPolls"/> with that provider's reader.
/// </summary>
public sealed class PollConsumer<TCommand>(RelayDbContext db, JobPolls polls, IEnumerable<IJobReader> readers, TimeProvider time,
    RelayMetrics metrics, ILogger<PollConsumer<TCommand>> logger) : IConsumer<TCommand>
    where TCommand : class, IPollCommand
{
    public Task Consume(ConsumeContext<TCommand> context)
    {
        var reader = readers.Single(r => r.Provider == PolledProviders.Of<TCommand>());
        return PollTicks.RunOnceAsync(db, reader.Policy.Schedule, context.Message.Tick, time, metrics, logger,
            ct => polls.PollAsync(reader, ct), context.CancellationToken);
    }
}

public sealed class PollConsumerDefinition<TCommand> : ConsumerDefinition<PollConsumer<TCommand>> where TCommand : class, IPollCommand
{
    public PollConsumerDefinition()
    {
        EndpointName = BusExtensions.PollQueuePrefix + PolledProviders.ScheduleOf<TCommand>();
        // Polls of one provider never overlap within an instance; the tick claim covers other instances.
        ConcurrentMessageLimit = 1;
    }
}

/// <summary>Which poll command is whose: the command types (and their queues, <c>poll-{schedule}</c>) are fixed.</summary>
public static class PolledProviders
{
    public static ProviderName Of<TCommand>() => typeof(TCommand) switch
    {
        var t when t == typeof(PollPrecept) => ProviderName.Precept,
        var t when t == typeof(PollWoodpecker) => ProviderName.Woodpecker,
        var t when t == typeof(PollLance) => ProviderName.Lance,
        var t => throw new InvalidOperationException($"{t.Name} is no provider's poll command."),
    };

    public static string ScheduleOf<TCommand>() => RelayMetrics.Tag(Of<TCommand>());

    public static object Command(ProviderName provider, long tick, DateTimeOffset at) => provider switch
    {
        ProviderName.Precept => new PollPrecept(tick, at),
        ProviderName.Woodpecker => new PollWoodpecker(tick, at),
        _ => new PollLance(tick, at),
    };
}

/// <summary>Reads a job again that had become a dead letter after failing too many reads: what replaying the letter does.</summary>
public sealed class RetryProviderJobConsumer(RelayDbContext db, TimeProvider time, ILogger<RetryProviderJobConsumer> logger) : IConsumer<RetryProviderJob>
{
    public async Task Consume(ConsumeContext<RetryProviderJob> context)
    {
        var now = time.GetUtcNow();
        var updated = await db.ProviderJobs.Where(j => j.Id == context.Message.JobId)
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.ReadFailures, 0).SetProperty(j => j.NextPollAt, now)
                .SetProperty(j => j.Version, j => j.Version + 1), context.CancellationToken);
        logger.LogWarning(updated == 1 ? "Job {JobId} is read again on its provider's next poll" : "No job {JobId} to read again",
            context.Message.JobId);
    }
}

public sealed class RetryProviderJobConsumerDefinition : ConsumerDefinition<RetryProviderJobConsumer>
{
    public RetryProviderJobConsumerDefinition() => EndpointName = JobPolls.RetryQueue;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<RetryProviderJobConsumer> consumer,
        IRegistrationContext context) =>
        // A replayed dead letter is the plain JSON the letter holds.
        endpoint.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
}
