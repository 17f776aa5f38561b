using System.Diagnostics;
using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;

namespace EnrichmentRelay.Benchmarks.Sections;

/// <summary>
/// Section 5: the relay's peak resident set (VmHWM) with 10,000 and then 100,000 requests outstanding: accepted and
/// submitted to Precept, whose sandbox here takes an hour per job, so none completes during the run.
/// </summary>
public sealed class Memory(BenchEnvironment env, BenchRun run, Action<string> say)
{
    public static IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>();

    public async Task RunAsync(Engine engine, IReadOnlyList<int> steps)
    {
        say($"memory ({engine}): peak working set with {string.Join(" and ", steps.Select(s => s.ToString("N0")))} requests outstanding");
        var vhost = await env.NewVirtualHostAsync("mem");
        var database = await env.NewDatabaseAsync(engine);
        var sandbox = await EndToEnd.StartSandboxAsync(s => s.Precept.Settings.ProcessingDelay = TimeSpan.FromHours(1));
        try
        {
            await using var relay = await RelayCluster.StartAsync($"relay-memory-{engine.ToString().ToLowerInvariant()}", env, vhost, database,
                sandbox, Settings);
            run.MemoryDurability = await database.DurabilityAsync();
            await Task.Delay(TimeSpan.FromSeconds(2)); // let start-up settle before the idle reading
            var idle = relay.First.Memory().Current;
            say($"  idle: {idle / 1048576.0:N0} MB");

            var published = 0;
            var started = Stopwatch.GetTimestamp();
            foreach (var outstanding in steps)
            {
                var requests = Enumerable.Range(published, outstanding - published).Select(BenchRequests.Precept).ToList();
                await BrokerPublisher.PublishAsync(env.Broker(vhost), "enrichment-requested", requests, null, null);
                published = outstanding;
                var until = DateTime.UtcNow + TimeSpan.FromSeconds(Math.Max(120, outstanding / 200.0));
                while (sandbox.Precept.Counters.LeadsAccepted < outstanding)
                {
                    if (DateTime.UtcNow > until)
                    {
                        run.Notes.Add($"Memory: only {sandbox.Precept.Counters.LeadsAccepted:N0} of {outstanding:N0} requests were submitted in time.");
                        break;
                    }
                    await Task.Delay(200);
                }
                var (peak, current) = relay.First.Memory();
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                run.Memory.Add(new MemoryResult(outstanding, peak, current, idle, seconds));
                say($"  {outstanding:N0} outstanding after {seconds:0} s: peak {peak / 1048576.0:N0} MB, now {current / 1048576.0:N0} MB");
            }
        }
        finally
        {
            await sandbox.DisposeAsync();
            await env.DeleteVirtualHostAsync(vhost);
            database.Delete();
        }
    }
}
