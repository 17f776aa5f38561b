using System.Diagnostics;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Several relay instances on one RabbitMQ vhost and one PostgreSQL database, and what a second instance on SQLite does.</summary>
[Collection(RelayCollection.Name)]
public sealed class ScaleOutTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(4);
    static readonly TimeSpan WoodpeckerTick = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task ThreeInstancesShareTheWorkAndLosingOneMidRunLosesAndRepeatsNothing()
    {
        var requests = Enumerable.Range(0, 3000).Select(Leads.Mixed).ToList();
        // Every instance gives Precept the same callback address, that of the second instance, so callbacks for
        // jobs the others submitted arrive at an instance that did not submit them (as behind a load balancer).
        var callbackPort = RelayProcess.FreePort();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(300);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
        }, new Dictionary<string, string>
        {
            ["Relay__PublicBaseUrl"] = $"http://127.0.0.1:{callbackPort}/",
            ["Providers__Precept__BatchSize"] = "100",
            ["Providers__Lance__BatchSize"] = "100",
            ["Providers__Woodpecker__PollInterval"] = "00:00:00.500",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:05",
            ["Providers__Precept__ReconcileAfter"] = "00:00:45",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:45",
            // ReconcileAfter must outlast a submit (4 x RequestTimeout); a timeout this long holds on a loaded machine.
            ["Providers__Precept__RequestTimeout"] = "00:00:10",
            ["Providers__Woodpecker__RequestTimeout"] = "00:00:10",
            // A Lance submit cut off by the kill is taken over after 4 x its RequestTimeout (2 minutes with the default 30 s).
            ["Providers__Lance__RequestTimeout"] = "00:00:10",
        });
        var callbacks = await scenario.StartAnotherInstanceAsync(callbackPort);
        await scenario.StartAnotherInstanceAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => requests.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0) >= requests.Count / 2,
                Deadline, "half of the completions before the kill");

            var concurrentBeforeTheKill = scenario.Sandbox.Woodpecker.Counters.MaxConcurrentRequests;
            await scenario.Relay.KillAsync();                 // one of the three, kill -9, mid-run
            await scenario.StartAnotherInstanceAsync();       // and a fresh one takes its place
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            var elapsed = clock.Elapsed;

            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            var republished = received - requests.Count - scenario.Bus.RedeliveredCompletions;
            var window = OutboxWindow.Read([scenario.Relay, .. scenario.OtherInstances]);
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            var ticks = (int)Math.Ceiling(elapsed / WoodpeckerTick) + 1;
            output.WriteLine($"[figure] 3 instances, 1 killed with kill -9 halfway and 1 started: {requests.Count} requests sent, {received} completions " +
                             $"received, {received - requests.Count} duplicates (same EventId; {republished} re-published by the relays, bound {window}) " +
                             $"in {elapsed.TotalSeconds:0.0} s; max submits per lead: " +
                             $"Precept {Leads.Max(precept.LeadSubmissions)}, Woodpecker {Leads.Max(woodpecker.LeadSubmissions)}, Lance charges " +
                             $"{Leads.Max(lance.Charges)}; Woodpecker: at most {woodpecker.MaxConcurrentRequests} request at a time, " +
                             $"{woodpecker.ListCalls} batch-list polls in {ticks} ticks");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);

            // Claim contention, from the instances still running (the killed one's counters went with it).
            var scrapes = new List<PrometheusScrape>();
            foreach (var instance in scenario.OtherInstances)
                scrapes.Add(await PrometheusScrape.FetchAsync(instance.Http));
            string Contention(string work)
            {
                var claimed = scrapes.Sum(s => s.Sum("relay_claims_rows_total", ("work", work)));
                var passedOver = scrapes.Sum(s => s.Sum("relay_claims_passed_over_total", ("work", work)));
                return $"{work} {claimed:0} claimed ({claimed / elapsed.TotalSeconds:0}/s), {passedOver:0} passed over";
            }
            output.WriteLine($"[figure] claim contention over the {scrapes.Count} instances alive at the end (PostgreSQL, FOR UPDATE SKIP LOCKED): " +
                             $"{Contention("requests")}; {Contention("outbox")}; {Contention("callbacks")}");
            // The two instances that ran from start to end each took batches and published completions: the work was shared.
            foreach (var scrape in scrapes.Take(2))
            {
                Assert.True(scrape.Sum("relay_claims_rows_total", ("work", "requests")) > 0, "an instance claimed no request for a batch");
                Assert.True(scrape.Sum("relay_claims_rows_total", ("work", "outbox")) > 0, "an instance claimed no outbox row");
            }
            // Woodpecker's rule is one request at a time per key: it held across the instances, and none was dropped. The kill
            // releases the killed instance's lock while Woodpecker may still be serving the request it sent, so one more
            // request may overlap that one (Woodpecker queues it): at most 2 after the kill, exactly 1 before it.
            Assert.Equal(1, concurrentBeforeTheKill);
            Assert.InRange(woodpecker.MaxConcurrentRequests, 1, 2);
            Assert.Equal(0, woodpecker.RequestsDroppedForConcurrency);
            // One poll per tick however many instances publish it: never more batch-list reads than ticks.
            Assert.InRange(woodpecker.ListCalls, 1, ticks);
            // Outbox rows are leased: the only copies are what the killed instance held leased (published, not yet recorded
            // sent) and another took over once the lease ran out, or publishes the broker did not confirm.
            Assert.InRange(received - requests.Count, 0, 200);
            Assert.InRange(republished, 0, window.Bound);
        }
        catch
        {
            foreach (var instance in scenario.OtherInstances)
                output.WriteLine(instance.LogTail(80));
            throw;
        }
    }

    [Fact]
    public async Task ASecondInstanceOnTheSameSqliteFileRefusesToStart()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => RelayProcess.StartAsync(scenario.Settings));

        output.WriteLine(refused.Message);
        Assert.Contains("Another relay instance is already using the SQLite ledger", refused.Message);
        Assert.Contains("Ledger:Engine=Postgres", refused.Message);
        // The first one is unharmed.
        using var ready = await scenario.Relay.Http.GetAsync("health/ready");
        Assert.True(ready.IsSuccessStatusCode);
    }
}
