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
        var requests = Enumerable.Range(0, 1000).Select(Request).ToList();
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
            // At least once on the wire, exactly once in substance: a re-published completion is the same event.
            Assert.All(requests, r => Assert.Single(scenario.Bus.Completions[r.RequestId].Select(c => (c.EventId, c.Outcome)).Distinct()));
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] kill -9 mid-run: {requests.Count} requests sent, {received} completions received, {duplicates} duplicates " +
                             $"(same EventId); charges: Precept {precept.CreditsCharged} credits for {precept.LeadSubmissions.Count} leads " +
                             $"(max {Max(precept.LeadSubmissions)} submit each), Woodpecker {woodpecker.CreditsCharged} credits " +
                             $"(max {Max(woodpecker.LeadSubmissions)} submit each), Lance {lance.CreditsCharged} credits (max {Max(lance.Charges)} charge each)");
            Assert.All(precept.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.All(woodpecker.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.All(lance.Charges.Values, n => Assert.Equal(1, n));
            Assert.True(requests.All(r => scenario.Bus.Completions[r.RequestId].First().Outcome == Outcome.Found),
                "every lead of this run is findable, so every completion is Found");
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
        var requests = Enumerable.Range(0, 600).Select(Request).ToList();
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
            Assert.All(requests, r => Assert.Single(scenario.Bus.Completions[r.RequestId].Select(c => (c.EventId, c.Outcome)).Distinct()));
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] {outage} mid-run: {requests.Count} requests sent, {received} completions received, " +
                             $"{received - requests.Count} duplicates (same EventId); max submits per lead: Precept {Max(precept.LeadSubmissions)}, " +
                             $"Woodpecker {Max(woodpecker.LeadSubmissions)}, Lance charges {Max(lance.Charges)}");
            Assert.All(precept.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.All(woodpecker.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.All(lance.Charges.Values, n => Assert.Equal(1, n));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    static int Max(IReadOnlyDictionary<string, int> counts) => counts.Count == 0 ? 0 : counts.Values.Max();

    static EnrichmentRequested Request(int i) => (i % 3) switch
    {
        0 => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = $"K{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email],
        },
        1 => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead
            {
                WoodpeckerLead = JsonDocument.Parse($$"""{"uid":"k{{i}}-{{Guid.NewGuid():N}}","first_name":"Erlich","last_name":"K{{i}}","company_name":"Bachmanity","company_website":"bachmanity.com","linkedin_url":"linkedin.com/in/erlich-k{{i}}"}""").RootElement.Clone(),
            },
            Fields = [EnrichmentField.Email],
        },
        _ => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { LancePersonId = Guid.NewGuid().ToString() },
            Fields = [EnrichmentField.Email],
        },
    };
}
