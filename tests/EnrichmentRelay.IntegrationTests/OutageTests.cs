using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Outages of the broker and the database (RabbitMQ stopped, PostgreSQL restarted or crashed) in the middle of a run:
/// nothing lost, nothing charged twice, the relay reconnects by itself. They break a node and a cluster of their own
/// (<see cref="TestEnvironment.Outage"/>), one test at a time, while the other tests run on the shared ones.
/// </summary>
[RunsLong(140)]
public sealed class OutageTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);
    static TestBroker Broker => TestBroker.OutageNode;
    static TestPostgres Postgres => TestPostgres.Outage;

    [Fact]
    public async Task BrokerStoppedAndStartedMidRunLosesAndDuplicatesNothing()
    {
        await RunThroughOutageAsync("RabbitMQ stop_app / start_app", async () =>
        {
            await Broker.Ctl(["stop_app"]);
            await Broker.Ctl(["start_app"]);
        });
    }

    [Fact]
    public async Task DatabaseRestartedMidRunLosesAndDuplicatesNothing()
    {
        // A clean shutdown (fast mode: checkpoint, then stop): proves reconnection.
        await RunThroughOutageAsync("PostgreSQL restart", () => Postgres.CtlAsync("restart"));
    }

    [Fact]
    public async Task DatabaseCrashedWithAnImmediateStopMidRunLosesAndDuplicatesNothing()
    {
        // No checkpoint, no goodbye to the clients: the start replays the WAL, so what was committed is there.
        await RunThroughOutageAsync("PostgreSQL crash (pg_ctl stop -m immediate, start)", async () =>
        {
            await Postgres.CtlAsync("stop", "-m", "immediate");
            await Postgres.CtlAsync("start");
        });
    }

    [Fact]
    public async Task DatabasePostmasterKilledMidRunLosesAndDuplicatesNothing()
    {
        await RunThroughOutageAsync("PostgreSQL crash (kill -9 of the postmaster, start)", async () =>
        {
            await Postgres.KillAsync();
            await Postgres.CtlAsync("start");
        });
    }

    /// <summary>Publishes 600 requests over all providers, causes the outage once some have completed, and checks the result.</summary>
    async Task RunThroughOutageAsync(string outage, Func<Task> cause)
    {
        var requests = Enumerable.Range(0, 600).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
        }, new Dictionary<string, string>
        {
            ["Providers__Precept__BatchSize"] = "50",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:05",
            ["Providers__Lance__BatchSize"] = "50",
            // A submit cut off by the outage is taken over after 4 x RequestTimeout (2 minutes with the default 30 s);
            // 10 s holds on a loaded machine, and ReconcileAfter must outlast a submit.
            ["Providers__Precept__RequestTimeout"] = "00:00:10",
            ["Providers__Woodpecker__RequestTimeout"] = "00:00:10",
            ["Providers__Lance__RequestTimeout"] = "00:00:10",
            ["Providers__Precept__ReconcileAfter"] = "00:00:45",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:45",
        }, broker: Broker, postgres: Postgres);
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => requests.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0) >= 100,
                Deadline, "some completions before the outage");

            await cause();
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            var duplicates = received - requests.Count;
            var republished = duplicates - scenario.Bus.RedeliveredCompletions;
            var window = OutboxWindow.Read([scenario.Relay]);
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] {outage} mid-run ({await TestDatabase.DurabilityAsync(Postgres)}): {requests.Count} requests sent, {received} completions received, " +
                             $"{duplicates} duplicates (same EventId; {republished} re-published by the relay, {scenario.Bus.RedeliveredCompletions} " +
                             $"redelivered to the subscriber by the broker; bound {window}); max submits per lead: Precept {Leads.Max(precept.LeadSubmissions)}, " +
                             $"Woodpecker {Leads.Max(woodpecker.LeadSubmissions)}, Lance charges {Leads.Max(lance.Charges)}");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
            FaultTests.AssertDuplicatesWithinTheWindow(republished, window);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }
}
