using System.Collections.Concurrent;
using System.Diagnostics;
using EnrichmentRelay.Contracts;
using System.Net;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// The relay on a three-node RabbitMQ cluster (infra/rabbitmq/cluster.sh) with quorum queues: one node is lost
/// hard in the middle of a run and comes back, and nobody outside notices but for a pause. Run by
/// infra/test-cluster.sh (the cluster costs a minute more than infra/test.sh's ten allow), not by infra/test.sh.
/// </summary>
[Collection(RelayCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class ClusterTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task ANodeKilledMidRunAndStartedAgainLosesAndDuplicatesNothingAndTheRelayNeverRestarts()
    {
        var broker = TestBroker.Cluster;
        var requests = Enumerable.Range(0, 2000).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
        }, new Dictionary<string, string>
        {
            // Small batches keep submits, polls and publishes going all through the run.
            ["Providers__Precept__BatchSize"] = "100",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:05",
            ["Providers__Lance__BatchSize"] = "100",
        }, broker: broker);
        var relayProcess = scenario.Relay.ProcessId;
        await using var producer = new ConfirmedProducer(broker, scenario.VirtualHost);
        int Completed() => requests.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0);
        try
        {
            // The node that leads the relay's intake queue: where the relay connected first and declared its queues. Asked
            // before the stream starts: rabbitmqctl takes seconds, on a loaded machine tens of seconds, and asked after the
            // first completions it let the stream end and the relay finish before the node was lost.
            var node = await LeaderOfAsync(broker, scenario.VirtualHost, "enrichment-requested");

            // A steady stream, so that the node is lost with requests arriving, waiting, in work and completing.
            var publishing = PublishPacedAsync(producer, requests, perSecond: 100);
            await Eventually.TrueAsync(() => Completed() >= 300, Deadline, "some completions before the node is lost");
            var beforeKill = Completed();
            var publishedBeforeKill = producer.Confirmed;
            var killedAt = DateTime.UtcNow;
            var outage = Stopwatch.StartNew();
            await TestEnvironment.ClusterAsync("kill", node);
            // Work goes on on the two nodes left (a quorum of three).
            await Eventually.TrueAsync(() => Completed() >= beforeKill + 300, Deadline,
                $"completions while the node is down (killed after {beforeKill} completions, {publishedBeforeKill} requests published)");
            var whileDown = Completed() - beforeKill;
            await TestEnvironment.ClusterAsync("restart", node);
            var downFor = outage.Elapsed;

            var publishRetries = await publishing.WaitAsync(Deadline);
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            Assert.False(scenario.Relay.HasExited, "the relay exited");
            Assert.Equal(relayProcess, scenario.Relay.ProcessId);
            using (var ready = await scenario.Relay.Http.GetAsync("health/ready"))
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

            var members = await MembersAsync(broker, scenario.VirtualHost, "enrichment-requested");
            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            var times = scenario.Bus.CompletionTimes.Order().ToList();
            var pause = times.Where(t => t >= killedAt).Prepend(killedAt).Zip(times.Where(t => t >= killedAt), (a, b) => b - a).DefaultIfEmpty().Max();
            var relayReconnects = scenario.Relay.ReconnectsAfterRejectedPublishes.Count;
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] RabbitMQ cluster (3 nodes, quorum queues, {await TestDatabase.DurabilityAsync()}): node {node} (leader of the relay's intake queue) " +
                             $"killed -9 after {beforeKill} of {requests.Count} completions ({publishedBeforeKill} published, at 100/s), started again {downFor.TotalSeconds:0.0} s later " +
                             $"({whileDown} completions meanwhile; {publishRetries} publishes the broker did not confirm, sent again; after publishes the broker " +
                             $"rejected, the relay reconnected {relayReconnects} times, the producer took {producer.RejectedChannels} new channels); " +
                             $"longest pause in completions after the kill {pause.TotalSeconds:0.0} s; {received} completions received, {received - requests.Count} duplicates " +
                             $"(same EventId); max submits per lead: Precept {Leads.Max(precept.LeadSubmissions)}, Woodpecker {Leads.Max(woodpecker.LeadSubmissions)}, " +
                             $"Lance charges {Leads.Max(lance.Charges)}; relay process {relayProcess} never restarted; intake queue members now: {members}");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
        }
        catch
        {
            string Provider(EnrichmentRequested r) => r.Lead!.WoodpeckerLead is not null ? "Woodpecker" : r.Lead.LancePersonId is not null ? "Lance" : "Precept";
            output.WriteLine($"{producer}; completed: " + string.Join(", ", requests.GroupBy(Provider).Select(g =>
                $"{g.Key} {g.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0)} of {g.Count()}")));
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    /// <summary>
    /// Publishes <paramref name="perSecond"/> requests a second, as a producer would, and sends a request again on the
    /// next tick when the broker did not confirm it (its node went away, or it rejected it): at least once, as the relay
    /// expects. Returns how many publishes were sent again.
    /// </summary>
    static async Task<int> PublishPacedAsync(ConfirmedProducer producer, IReadOnlyList<EnrichmentRequested> requests, int perSecond)
    {
        var waiting = new Queue<EnrichmentRequested>(requests);
        var unconfirmed = new ConcurrentQueue<EnrichmentRequested>();
        var again = 0;
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (waiting.Count > 0 || !unconfirmed.IsEmpty)
        {
            await tick.WaitForNextTickAsync();
            var batch = new List<EnrichmentRequested>();
            while (unconfirmed.TryDequeue(out var retry))
                batch.Add(retry);
            var retried = batch.Count;
            again += retried;
            while (batch.Count < retried + perSecond / 10 && waiting.TryDequeue(out var next))
                batch.Add(next);
            await Task.WhenAll(batch.Select(async request =>
            {
                try
                {
                    await producer.PublishAsync(request);
                }
                catch (Exception)
                {
                    unconfirmed.Enqueue(request);
                }
            }));
        }
        return again;
    }

    /// <summary>1, 2 or 3: the test node (infra/rabbitmq/cluster.sh names them …-1@…, …-2@…, …-3@…) leading a quorum queue.</summary>
    static async Task<string> LeaderOfAsync(TestBroker broker, string vhost, string queue)
    {
        var leader = (await broker.Ctl(["list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "leader"]))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Single(c => c[0] == queue)[1];
        return leader.Split('@')[0][^1..];
    }

    static async Task<string> MembersAsync(TestBroker broker, string vhost, string queue) =>
        (await broker.Ctl(["list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "members"]))
        .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Single(c => c[0] == queue)[1];
}
