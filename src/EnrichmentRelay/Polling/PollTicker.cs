using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using MassTransit;

namespace EnrichmentRelay.Polling;

/// <summary>A provider poll that runs on a timer: its name, how often, and the command that starts it.</summary>
public sealed record PollSchedule(string Name, TimeSpan Interval, Func<long, DateTimeOffset, object> Command);

/// <summary>
/// The timer behind the scheduled consumers: at every tick boundary it publishes each schedule's command.
/// Every instance publishes; the consumer claims the tick in the database, so one poll runs per tick.
/// A shutdown stops it at once, before anything else is stopped: a poll not published is the next tick's.
/// </summary>
public sealed class PollTicker(IEnumerable<PollSchedule> schedules, IBus bus, TimeProvider time, ILogger<PollTicker> logger)
    : DrainingBackgroundService
{
    static readonly Guid CommandIdNamespace = new("0b7a9f0e-6f43-4c55-9d0b-5d1e2c7a4b19");

    /// <summary>
    /// Longest the ticker waits for one publish. RabbitMQ's client can wait for a confirm forever when its connection
    /// went away at the wrong moment (rabbitmq-dotnet-client issue 1930), and one publish that never ends would stop
    /// every poll for good; given up, it is the next tick's (waited for with a timeout: the publish itself is left to end
    /// or fail by itself).
    /// </summary>
    public static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);

    protected override Task RunAsync(CancellationToken stopping, CancellationToken working) => TickAsync(stopping);

    async Task TickAsync(CancellationToken stoppingToken)
    {
        var all = schedules.ToList();
        if (all.Count == 0)
            return;
        var last = all.ToDictionary(s => s.Name, s => TickOf(s, time.GetUtcNow()));
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var next = all.Min(s => StartOf(s, last[s.Name] + 1));
            if (next > now)
                await Task.Delay(next - now, time, stoppingToken);

            foreach (var schedule in all)
            {
                var tick = TickOf(schedule, time.GetUtcNow());
                if (tick <= last[schedule.Name])
                    continue;
                last[schedule.Name] = tick;
                try
                {
                    var command = schedule.Command(tick, StartOf(schedule, tick));
                    await bus.Publish(command, command.GetType(),
                            context => context.MessageId = NameBasedGuid.Create(CommandIdNamespace, $"{schedule.Name}:{tick}"), stoppingToken)
                        .WaitAsync(PublishTimeout, time, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "Could not publish the {Schedule} poll for tick {Tick}; the next tick will poll", schedule.Name, tick);
                }
            }
        }
    }

    public static long TickOf(PollSchedule schedule, DateTimeOffset at) => at.ToUnixTimeMilliseconds() / (long)schedule.Interval.TotalMilliseconds;

    static DateTimeOffset StartOf(PollSchedule schedule, long tick) =>
        DateTimeOffset.FromUnixTimeMilliseconds(tick * (long)schedule.Interval.TotalMilliseconds);
}
