using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Precept;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>The spine end to end: bus in, Precept job out, webhook back, one EnrichmentCompleted each.</summary>
[RunsLong(95)]
public sealed class PreceptRelayTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    // The sandbox decides each lead's outcome by its last name; this is what the relay must report.
    static readonly (LeadOutcome Sandbox, Outcome Expected)[] Script =
    [
        (LeadOutcome.Found, Outcome.Found),
        (LeadOutcome.EmailOnly, Outcome.Found),
        (LeadOutcome.PhoneOnly, Outcome.Found),
        (LeadOutcome.NoContact, Outcome.NotFound),
        (LeadOutcome.NotFound, Outcome.NotFound),
    ];

    [Theory]
    [InlineData(Engine.Sqlite)]
    [InlineData(Engine.Postgres)]
    public async Task EveryRequestFromEitherWireFormatCompletesExactlyOnce(Engine engine)
    {
        var requests = Enumerable.Range(0, 250).Select(NewRequest).ToList();
        await using var scenario = await RelayScenario.StartAsync(engine,
            sandbox =>
            {
                sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
                sandbox.Precept.Settings.DuplicateDeliveries = 2;
                foreach (var (request, i) in requests.Select((r, i) => (r, i)))
                    sandbox.Precept.SetOutcome(request.Lead!.LinkedInUrl ?? request.Lead.LastName!, Script[i % Script.Length].Sandbox);
            },
            new Dictionary<string, string>
            {
                // Everything below arrives well within one window: Precept must see one job of 250.
                ["Providers__Precept__BatchSize"] = "1000",
                ["Providers__Precept__FlushWindow"] = "00:00:05",
            });
        try
        {
            await Task.WhenAll(requests.Take(200).Select(scenario.Bus.PublishAsync));
            await scenario.Bus.PublishRawJsonAsync(requests.Skip(200).Select(TestBus.ToRawJson));
            // The same RequestIds again, by both routes: no new submit, no new completion.
            await Task.WhenAll(requests.Take(10).Select(scenario.Bus.PublishAsync));
            await scenario.Bus.PublishRawJsonAsync(requests.Skip(240).Select(TestBus.ToRawJson));

            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            await WaitForSentinelAsync(scenario);

            foreach (var (request, i) in requests.Select((r, i) => (r, i)))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
                Assert.Equal(Script[i % Script.Length].Expected, completed.Outcome);
                Assert.Equal(EnrichmentCompleted.EventIdFor(request.RequestId), completed.EventId);
                Assert.Equal(ProviderName.Precept, completed.Provider);
                Assert.Equal(request.CorrelationData, completed.CorrelationData);
                Assert.NotNull(completed.ProviderJobId);
                Assert.Equal(completed.Outcome == Outcome.Found, completed.Emails.Count + completed.Phones.Count > 0);
                if (completed.Outcome != Outcome.Found)
                    Assert.False(string.IsNullOrEmpty(completed.Detail));
            }

            var counters = scenario.Sandbox.Precept.Counters;
            Assert.Equal(2, counters.JobsCreated); // the 250, then the sentinel
            Assert.Equal(250, counters.LargestJob);
            Assert.All(counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.True(counters.WebhookDeliveries >= 3, "the sandbox delivered every callback more than once");
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task ThirtyTwoCorrelationKeysOfOneKilobyteRoundTripThroughTheBroker()
    {
        var correlation = Enumerable.Range(0, 32).ToDictionary(i => $"key-{i:D2}", i => new string((char)('a' + i % 26), 1024));
        var request = NewRequest(0) with { CorrelationData = correlation };
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);

        await scenario.Bus.PublishAsync(request);
        await scenario.Bus.WaitForCompletionsAsync([request.RequestId], Deadline);

        Assert.Equal(correlation, Assert.Single(scenario.Bus.Completions[request.RequestId]).CorrelationData);
    }

    [Fact]
    public async Task InvalidRequestsOnTheBusAreAnsweredRejected()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);
        var noFields = NewRequest(0) with { Fields = [] };
        var requestId = Guid.NewGuid();
        var unidentifiable = $$$"""{"requestId":"{{{requestId}}}","lead":{"companyName":"Acme"},"fields":["email"],"correlationData":{"crmId":"x"}}""";

        await scenario.Bus.PublishAsync(noFields);
        await scenario.Bus.PublishRawJsonAsync([unidentifiable]);
        await scenario.Bus.WaitForCompletionsAsync([noFields.RequestId, requestId], Deadline);

        var rejected = Assert.Single(scenario.Bus.Completions[noFields.RequestId]);
        Assert.Equal(Outcome.Rejected, rejected.Outcome);
        Assert.Contains("'fields'", rejected.Detail);
        var unknown = Assert.Single(scenario.Bus.Completions[requestId]);
        Assert.Equal(Outcome.Rejected, unknown.Outcome);
        Assert.Contains("No enabled provider can identify this lead", unknown.Detail);
        Assert.Equal("x", unknown.CorrelationData["crmId"]);
        Assert.Equal(0, scenario.Sandbox.Precept.Counters.SubmitCalls);
    }

    [Fact]
    public async Task ProviderRefusalsAndFailuresBecomeTheirOutcomes()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        var precept = scenario.Sandbox.Precept;

        // 1. No credits at all: 402 for the whole job.
        precept.Settings.Credits = 0;
        var broke = await SubmitBatchAsync(scenario, 2);
        AssertOutcomes(scenario, broke, Outcome.InsufficientCredits);

        // 2. Credits for two leads of five (12 each for email + phone): a capped 202; the rest are cut.
        precept.Settings.Credits = 2 * 12 + 5;
        var capped = await SubmitBatchAsync(scenario, 5);
        Assert.Equal(2, capped.Count(r => Single(scenario, r).Outcome == Outcome.Found));
        Assert.Equal(3, capped.Count(r => Single(scenario, r).Outcome == Outcome.InsufficientCredits));

        // 3. Precept refuses the batch as invalid: Rejected, with its message.
        precept.Settings.Credits = 1_000_000;
        precept.FailNextSubmits(1, 400);
        var refused = await SubmitBatchAsync(scenario, 1);
        AssertOutcomes(scenario, refused, Outcome.Rejected);
        Assert.Contains("Precept", Single(scenario, refused[0]).Detail);

        // 4. The job fails at Precept: Failed, never NotFound.
        precept.FailNextJobs(1);
        var failed = await SubmitBatchAsync(scenario, 2);
        AssertOutcomes(scenario, failed, Outcome.Failed);
    }

    [Fact]
    public async Task CallbackForAJobWhoseSubmitAnswerWasLostStillCompletesItsRequests()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50),
            new Dictionary<string, string>
            {
                // One batch of the three, however far apart the relay takes them in: a second submit here could only be
                // the lost one sent again (the scenario's 500 ms window split a slow first intake from the rest).
                ["Providers__Precept__BatchSize"] = "3",
                ["Providers__Precept__FlushWindow"] = "00:01:00",
            });
        // Precept creates the job but the connection drops before the relay reads the answer: the
        // relay never learns the job id, yet the webhook (keyed by our token) brings the results.
        scenario.Sandbox.Precept.DropConnectionAfterAcceptNext(1);

        var requests = await SubmitBatchAsync(scenario, 3);

        AssertOutcomes(scenario, requests, Outcome.Found);
        Assert.Equal(1, scenario.Sandbox.Precept.Counters.SubmitCalls);
    }

    /// <summary>Publishes a request after everything else and waits for it, so any stray duplicate has arrived.</summary>
    static async Task WaitForSentinelAsync(RelayScenario scenario)
    {
        var sentinel = NewRequest(9999);
        await scenario.Bus.PublishAsync(sentinel);
        await scenario.Bus.WaitForCompletionsAsync([sentinel.RequestId], Deadline);
    }

    static async Task<List<EnrichmentRequested>> SubmitBatchAsync(RelayScenario scenario, int count)
    {
        var batch = Enumerable.Range(0, count).Select(i => NewRequest(i)).ToList();
        foreach (var request in batch)
            await scenario.Bus.PublishAsync(request);
        await scenario.Bus.WaitForCompletionsAsync(batch.Select(r => r.RequestId), Deadline);
        return batch;
    }

    static EnrichmentCompleted Single(RelayScenario scenario, EnrichmentRequested request) =>
        Assert.Single(scenario.Bus.Completions[request.RequestId]);

    static void AssertOutcomes(RelayScenario scenario, IEnumerable<EnrichmentRequested> requests, Outcome expected) =>
        Assert.All(requests, r => Assert.Equal(expected, Single(scenario, r).Outcome));

    static EnrichmentRequested NewRequest(int i) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = i % 3 == 0
            ? new Lead { LinkedInUrl = $"https://www.linkedin.com/in/lead-{i}-{Guid.NewGuid():N}", FirstName = "Lead", LastName = $"L{i}-{Guid.NewGuid():N}" }
            : new Lead { FirstName = "Jane", LastName = $"L{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
        Fields = [EnrichmentField.Email, EnrichmentField.Phone],
        CorrelationData = new Dictionary<string, string> { ["crmId"] = $"crm-{i}", ["batch"] = "it" },
    };
}

/// <summary>
/// Tests that must run alone: they measure how requests overlap across instances (scale-out), or count what happens
/// within a second (rate limits, shutdown times), which a test running beside them would skew. They run after the
/// others, one at a time. Every other test class is a collection of its own, and four of those run at once
/// (xunit.runner.json), the longest first (<see cref="Infrastructure.LongestFirst"/>): each has its own virtual host,
/// database, sandbox and relay processes, and mostly waits on them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RelayCollection
{
    public const string Name = "relay";
}
