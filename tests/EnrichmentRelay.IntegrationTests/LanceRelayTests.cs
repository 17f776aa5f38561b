using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Lance;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Lance end to end: per-field manual bulk calls, reused records, polling by (person, field).</summary>
[Collection(RelayCollection.Name)]
public sealed class LanceRelayTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(Engine.Sqlite)]
    [InlineData(Engine.Postgres)]
    public async Task EachRequestCompletesOnceWhenAllItsTasksAreTerminal(Engine engine)
    {
        var people = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid().ToString()).ToList();
        // person i: both fields; every 4th phone not found, every 10th email failing, every 25th email timing out.
        var requests = people.Select((id, i) => Request(id, i % 2 == 0 ? [EnrichmentField.Email, EnrichmentField.Phone] : [EnrichmentField.Email])).ToList();
        // A second request for some of the same persons and fields: Lance reuses the pending or finished
        // record, charging once. (A failed record is not reused, so those persons are left out here.)
        var twins = people.Take(20).Where((_, i) => i % 10 != 5 && i % 25 != 7).Select(id => Request(id, [EnrichmentField.Email])).ToList();
        await using var scenario = await RelayScenario.StartAsync(engine, sandbox =>
        {
            var lance = sandbox.Lance;
            lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(400);
            foreach (var (id, i) in people.Select((p, i) => (p, i)))
            {
                lance.AddPerson(id, "Ann", $"Archer{i}");
                if (i % 4 == 0) lance.SetOutcome(id, "phones", LanceOutcome.NotFound);
                if (i % 10 == 5) lance.SetOutcome(id, "emails", LanceOutcome.Failed);
                if (i % 25 == 7) lance.SetOutcome(id, "emails", LanceOutcome.Timeout);
            }
        });
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Task.WhenAll(twins.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Concat(twins).Select(r => r.RequestId), Deadline);

            foreach (var (request, i) in requests.Select((r, i) => (r, i)))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
                Assert.Equal(ProviderName.Lance, completed.Provider);
                var expected = i % 10 == 5 && i % 2 == 1 ? Outcome.Failed
                    : i % 25 == 7 && i % 2 == 1 ? Outcome.TimedOut
                    : i % 10 == 5 && i % 4 == 0 ? Outcome.Failed
                    : i % 25 == 7 && i % 4 == 0 ? Outcome.TimedOut
                    : Outcome.Found;
                Assert.Equal(expected, completed.Outcome);
                if (completed.Outcome == Outcome.Found)
                {
                    var emailFound = i % 10 != 5 && i % 25 != 7;
                    Assert.Equal(emailFound, completed.Emails.Any(e => e.Contains('@')));
                    Assert.Equal(i % 2 == 0 && i % 4 != 0, completed.Phones.Count > 0);
                }
            }
            Assert.All(twins, t => Assert.Single(scenario.Bus.Completions[t.RequestId]));

            var counters = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] Lance: {counters.BulkCalls} bulk calls, {counters.QueryCalls} queries (largest {counters.LargestQuery}), " +
                             $"{counters.PersonReads} person reads for {requests.Count + twins.Count} requests");
            Assert.All(counters.Charges.Values, n => Assert.Equal(1, n));
            Assert.True(counters.LargestQuery <= 200);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task AllOrNothingCreditShortfallCompletesEveryRequestOfTheCall()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            sandbox.Lance.Settings.Credits = 0;
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
        });
        var requests = Enumerable.Range(0, 3).Select(_ => Request(Guid.NewGuid().ToString(), [EnrichmentField.Email])).ToList();

        await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
        await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

        Assert.All(requests, r =>
        {
            var completed = Assert.Single(scenario.Bus.Completions[r.RequestId]);
            Assert.Equal(Outcome.InsufficientCredits, completed.Outcome);
            Assert.Contains("INSUFFICIENT_CREDITS", completed.Detail);
        });
        Assert.Equal(0, scenario.Sandbox.Lance.Counters.EnrichmentsCreated);
    }

    static EnrichmentRequested Request(string personId, IReadOnlyList<EnrichmentField> fields) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = personId },
        Fields = fields,
        CorrelationData = new Dictionary<string, string> { ["person"] = personId },
    };
}
