using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>The relay killed mid-run and restarted: every request still completes once, nobody is charged twice.</summary>
[Collection(RelayCollection.Name)]
public sealed class FaultTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task KillNineMidRunAndRestartLosesNothingAndChargesNobodyTwice()
    {
        var requests = Enumerable.Range(0, 1000).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
            sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(500);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
        }, new Dictionary<string, string>
        {
            // Small batches keep several submits in flight when the kill comes; fast safety nets finish what it cut.
            ["Providers__Precept__BatchSize"] = "50",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:05",
            ["Providers__Precept__ReconcileAfter"] = "00:00:05",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:05",
            ["Providers__Lance__BatchSize"] = "50",
        });
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => requests.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0) >= 150,
                Deadline, "some completions before the kill");

            await scenario.CrashAndRestartRelayAsync();
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            var duplicates = received - requests.Count;
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] kill -9 mid-run: {requests.Count} requests sent, {received} completions received, {duplicates} duplicates " +
                             $"(same EventId); charges: Precept {precept.CreditsCharged} credits for {precept.LeadSubmissions.Count} leads " +
                             $"(max {Leads.Max(precept.LeadSubmissions)} submit each), Woodpecker {woodpecker.CreditsCharged} credits " +
                             $"(max {Leads.Max(woodpecker.LeadSubmissions)} submit each), Lance {lance.CreditsCharged} credits (max {Leads.Max(lance.Charges)} charge each)");
            // At least once on the wire, exactly once in substance; every lead here is findable, so every outcome is Found.
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task BrokerStoppedAndStartedMidRunLosesAndDuplicatesNothing()
    {
        await RunThroughOutageAsync("RabbitMQ stop_app / start_app", async () =>
        {
            await TestEnvironment.RabbitCtlAsync("stop_app");
            await TestEnvironment.RabbitCtlAsync("start_app");
        });
    }

    [Fact]
    public async Task DatabaseRestartedMidRunLosesAndDuplicatesNothing()
    {
        await RunThroughOutageAsync("PostgreSQL restart", () => TestEnvironment.PgCtlAsync("restart"));
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
        });
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => requests.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0) >= 100,
                Deadline, "some completions before the outage");

            await cause();
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] {outage} mid-run: {requests.Count} requests sent, {received} completions received, " +
                             $"{received - requests.Count} duplicates (same EventId); max submits per lead: Precept {Leads.Max(precept.LeadSubmissions)}, " +
                             $"Woodpecker {Leads.Max(woodpecker.LeadSubmissions)}, Lance charges {Leads.Max(lance.Charges)}");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task SubmitAnswersLostAfterTheProvidersTookThemAreReconciledNeverSentAgain()
    {
        var requests = Enumerable.Range(0, 60).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            WithSmallRandomDelays(sandbox);
            // Each provider takes the first submit (creates and charges it), then cuts the connection before answering.
            sandbox.Precept.DropConnectionAfterAcceptNext(1);
            sandbox.Woodpecker.DropConnectionAfterAcceptNext(1);
            sandbox.Lance.DropConnectionAfterAcceptNext(1);
        }, new Dictionary<string, string>
        {
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:03",
            // Short, so that a wrong "not found, send again" would show up within the test as a second submit.
            ["Providers__Precept__ReconcileAfter"] = "00:00:03",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:03",
        });
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            output.WriteLine($"[figure] submit answer lost after accept (all three providers): {requests.Count} requests sent, {received} completions " +
                             $"received, {received - requests.Count} duplicates (same EventId); submit calls: Precept {precept.SubmitCalls}, " +
                             $"Woodpecker {woodpecker.LeadSubmitCalls}, Lance {lance.BulkCalls}; max submits per lead: Precept {Leads.Max(precept.LeadSubmissions)}, " +
                             $"Woodpecker {Leads.Max(woodpecker.LeadSubmissions)}, Lance charges {Leads.Max(lance.Charges)}");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
            // Each provider's answer really was lost, and the job was found again at the provider, not sent again.
            var log = scenario.Relay.LogText;
            Assert.All(new[] { "Precept", "Woodpecker", "Lance" }, provider => Assert.Contains($"may or may not have reached {provider}", log));
            Assert.Contains("Precept holds it as", log);
            Assert.Contains("Woodpecker holds it as batch", log);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task JobsWhoseWebhooksNeverArriveAllCompleteThroughTheSweep()
    {
        var requests = Enumerable.Range(0, 200).Select(i => Leads.Mixed(i * 3)).ToList(); // Precept leads only
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            WithSmallRandomDelays(sandbox);
            sandbox.Precept.Settings.LoseWebhooksOfEvery = 10;
        }, new Dictionary<string, string>
        {
            ["Providers__Precept__BatchSize"] = "10",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:03",
        });
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            var jobs = scenario.Sandbox.Precept.Jobs;
            var silent = jobs.Where(j => j.WebhooksLost).ToList();
            var rescued = System.Text.RegularExpressions.Regex.Matches(scenario.Relay.LogText, @"Rescued (\d+) requests of Precept job")
                .Sum(m => int.Parse(m.Groups[1].Value));
            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            output.WriteLine($"[figure] 10% of Precept webhooks never sent: {requests.Count} requests sent in {jobs.Count} jobs, {silent.Count} jobs " +
                             $"without a webhook ({silent.Sum(j => j.Total)} leads), {rescued} requests rescued by the sweep, {received} completions " +
                             $"received, {received - requests.Count} duplicates (same EventId), max submits per lead {Leads.Max(scenario.Sandbox.Precept.Counters.LeadSubmissions)}");
            Assert.Equal(jobs.Count / 10, silent.Count);
            Assert.NotEmpty(silent);
            Assert.Equal(silent.Sum(j => j.Total), rescued);
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    /// <summary>Providers that take a little, and not always the same, time: results arrive out of order.</summary>
    static void WithSmallRandomDelays(EnrichmentRelay.Sandbox.SandboxServer sandbox)
    {
        sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
        sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(400);
        sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
        sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(400);
    }


}
