using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Faults of the providers (submit answers lost, a rotated key, webhooks that never come): every request still
/// completes once, nobody is charged twice. A class of its own so that its tests run beside <see cref="FaultTests"/>.
/// </summary>
[RunsLong(130)]
public sealed class ProviderFaultTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task SubmitAnswersLostAfterTheProvidersTookThemAreReconciledNeverSentAgain()
    {
        var requests = Enumerable.Range(0, 60).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            FaultTests.WithSmallRandomDelays(sandbox);
            // Each provider takes the first submit (creates and charges it), then cuts the connection before answering.
            sandbox.Precept.DropConnectionAfterAcceptNext(1);
            sandbox.Woodpecker.DropConnectionAfterAcceptNext(1);
            sandbox.Lance.DropConnectionAfterAcceptNext(1);
        }, new Dictionary<string, string>
        {
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:03",
            // Short, so that a wrong "not found, send again" would show up within the test as a second submit.
            ["Providers__Precept__ReconcileAfter"] = "00:00:45",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:45",
            // ReconcileAfter must outlast a submit (4 x RequestTimeout); a timeout this long holds on a loaded machine.
            ["Providers__Precept__RequestTimeout"] = "00:00:10",
            ["Providers__Woodpecker__RequestTimeout"] = "00:00:10",
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
    public async Task SubmitAnswersLostWithProvidersThatDoOnlyWhatTheirDocsSayAreNeverSentTwice()
    {
        var requests = Enumerable.Range(0, 60).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            FaultTests.WithSmallRandomDelays(sandbox);
            // No name filter, no names, no custom data echoed: only what the vendor pages document.
            sandbox.Precept.Settings.UseDocumentedOnly();
            sandbox.Woodpecker.Settings.UseDocumentedOnly();
            sandbox.Lance.Settings.UseDocumentedOnly();
            // The first submit of each is taken (created and charged), its answer lost.
            sandbox.Precept.DropConnectionAfterAcceptNext(1);
            sandbox.Woodpecker.DropConnectionAfterAcceptNext(1);
            sandbox.Lance.DropConnectionAfterAcceptNext(1);
        }, new Dictionary<string, string>
        {
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:03",
            ["Providers__Precept__ReconcileAfter"] = "00:00:45",
            ["Providers__Precept__RequestTimeout"] = "00:00:10",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:45",
            ["Providers__Woodpecker__RequestTimeout"] = "00:00:10",
        });
        scenario.Relay.Http.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.AdminKey);
        try
        {
            var first = requests[..30];
            await Task.WhenAll(first.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => scenario.Sandbox.Precept.Counters.JobsCreated > 0, Deadline, "the first Precept job");
            // The next Precept submit fails with an answer that says nothing: Precept never created it, and cannot show it.
            scenario.Sandbox.Precept.FailNextSubmits(1, 502);
            await Task.WhenAll(requests[30..].Select(scenario.Bus.PublishAsync));

            var parked = await Eventually.ReturnsAsync(() => scenario.Relay.Http.GetFromJsonAsync<JsonElement>("admin/jobs"),
                page => page.GetProperty("total").GetInt32() > 0, Deadline, "a job parked as needing attention");
            var job = parked.GetProperty("items")[0];
            Assert.Equal("precept", job.GetProperty("provider").GetString());
            Assert.Equal(1, scenario.Sandbox.Precept.Counters.JobsCreated); // parked, not sent again
            using (var resend = await scenario.Relay.Http.PostAsync($"admin/jobs/{job.GetProperty("id").GetGuid()}/resend", null))
                Assert.Equal(System.Net.HttpStatusCode.OK, resend.StatusCode);

            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            output.WriteLine($"[figure] submit answers lost, providers in documented-only mode: {requests.Count} requests sent, {received} completions " +
                             $"received, {received - requests.Count} duplicates (same EventId); 1 Precept job parked and resent by the operator; " +
                             $"submit calls: Precept {precept.SubmitCalls}, Woodpecker {woodpecker.LeadSubmitCalls}, Lance {lance.BulkCalls}; max submits per lead: " +
                             $"Precept {Leads.Max(precept.LeadSubmissions)}, Woodpecker {Leads.Max(woodpecker.LeadSubmissions)}, Lance charges {Leads.Max(lance.Charges)}");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
            Assert.Contains("Precept holds it as", scenario.Relay.LogText); // the lost one was found at Precept by its leads
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task ARotatedPreceptKeyPausesPreceptWithoutFailingItsBacklogAndItResumesByItself()
    {
        var requests = Enumerable.Range(0, 30).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, FaultTests.WithSmallRandomDelays, new Dictionary<string, string>
        {
            ["Providers__Pause__FirstProbe"] = "00:00:01",
            ["Providers__Pause__MaxProbe"] = "00:00:02",
        });
        try
        {
            scenario.Sandbox.Precept.RotateApiKey("rotated-by-someone");
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            var others = requests.Where(r => r.Lead!.LastName is null).ToList();
            // The other providers go on; Precept's leads wait, and readiness names the paused provider.
            await scenario.Bus.WaitForCompletionsAsync(others.Select(r => r.RequestId), Deadline);
            var health = await Eventually.ReturnsAsync(() => scenario.Relay.Http.GetStringAsync("health/ready"),
                body => body.Contains("Degraded"), Deadline, "readiness to report Precept paused");
            Assert.Contains("Precept", health);
            var scrape = await Eventually.ReturnsAsync(() => PrometheusScrape.FetchAsync(scenario.Relay.Http),
                m => m.Sum("relay_provider_paused", ("provider", "precept")) == 1, Deadline, "the paused gauge");
            Assert.Equal(0, scrape.Sum("relay_provider_paused", ("provider", "lance")));
            Assert.All(requests.Except(others), r => Assert.Equal(0, scenario.Bus.CompletionCount(r.RequestId)));

            scenario.Sandbox.Precept.RotateApiKey(RelayScenario.PreceptKey); // the key works again
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            Assert.Contains("Healthy", await scenario.Relay.Http.GetStringAsync("health/ready"));
            output.WriteLine($"[figure] Precept key rotated: {requests.Count - others.Count} Precept requests waited while it was paused, " +
                             $"then completed; the {others.Count} others completed meanwhile");
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(scenario.Relay.LogText, "Precept is paused"));
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
            FaultTests.WithSmallRandomDelays(sandbox);
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
}
