using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Lance;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Lance end to end: per-field manual bulk calls, reused records, polling by (person, field).</summary>
[RunsLong(80)]
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
            // What subscribers are told they were charged is what Lance charged: a twin that reused a record paid nothing.
            var completions = requests.Concat(twins).Select(r => scenario.Bus.Completions[r.RequestId].First()).ToList();
            Assert.All(completions, c => Assert.NotNull(c.CreditsCharged));
            Assert.Equal(counters.CreditsCharged, completions.Sum(c => c.CreditsCharged));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task WithLanceOnlyAsGoodAsItsPagesPromiseOnlyTheRefusedPersonIsRejectedAndOnlyWhatWasFoundIsReported()
    {
        var people = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid().ToString()).ToList();
        var invalid = people[41];
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            var lance = sandbox.Lance;
            lance.Settings.UseDocumentedOnly();
            lance.Settings.PreexistingContacts = true; // every person already holds an email another organization found
            lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            foreach (var (id, i) in people.Select((p, i) => (p, i)))
            {
                lance.AddPerson(id, "Nia", $"Noble{i}");
                if (i % 4 == 1) lance.SetOutcome(id, "emails", LanceOutcome.NotFound);
                if (i % 6 == 4) lance.SetOutcome(id, "phones", LanceOutcome.Cancelled); // never a person whose email is not found
            }
            lance.MarkInvalid(invalid);
        });
        var requests = people.Select(id => Request(id, [EnrichmentField.Email, EnrichmentField.Phone])).ToList();
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            foreach (var (request, i) in requests.Select((r, i) => (r, i)))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
                var person = scenario.Sandbox.Lance.PersonJson(people[i])!;
                var othersEmail = person["emails"]!.AsArray()[0]!.GetValue<string>();
                if (people[i] == invalid)
                {
                    Assert.Equal(Outcome.Rejected, completed.Outcome);
                    Assert.Contains("not a valid lead id", completed.Detail);
                    Assert.Equal(0m, completed.CreditsCharged);
                    continue;
                }
                Assert.Equal(Outcome.Found, completed.Outcome); // the phone is found for every person whose email is not
                Assert.DoesNotContain(othersEmail, completed.Emails);
                Assert.Equal(i % 4 == 1 ? 0 : 1, completed.Emails.Count);
                Assert.Equal(i % 6 == 4 ? 0 : 1, completed.Phones.Count);
                // Charged per field found, under this reading of Lance's pricing.
                Assert.Equal((i % 4 == 1 ? 0 : 1) + (i % 6 == 4 ? 0 : 1), completed.CreditsCharged);
            }
            var counters = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] Lance documented-only: {requests.Count} requests (1 refused id) in {counters.BulkCalls} bulk calls, " +
                             $"{counters.QueryCalls} queries, {counters.PersonReads} person reads, {counters.CreditsCharged} credits");
            Assert.All(counters.Submissions.Values, n => Assert.Equal(1, n));
            Assert.All(counters.Charges.Values, n => Assert.Equal(1, n));
            Assert.Equal(counters.CreditsCharged, requests.Sum(r => scenario.Bus.Completions[r.RequestId].First().CreditsCharged));
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
            Assert.Equal(0m, completed.CreditsCharged);
        });
        Assert.Equal(0, scenario.Sandbox.Lance.Counters.EnrichmentsCreated);
    }

    [Fact]
    public async Task SelectionCompletesEachSelectedPersonOnceThenSummarises()
    {
        var people = Enumerable.Range(0, 12).Select(i => $"00000000-0000-4000-8000-{i:D12}").ToList();
        var selection = new SelectionEnrichmentRequested
        {
            SelectionId = Guid.NewGuid(),
            Filters = JsonDocument.Parse("{\"contact\":{\"contact.seniority\":{\"any\":{\"include\":[\"VP\"]}}}}").RootElement.Clone(),
            StartIndex = 2,
            TargetCount = 6,
            ExcludedIds = [people[3]],
            Field = EnrichmentField.Email,
            CorrelationData = new Dictionary<string, string> { ["campaign"] = "vp-q4" },
        };
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            foreach (var (id, i) in people.Select((p, i) => (p, i)))
            {
                sandbox.Lance.AddPerson(id, "Vic", $"Vp{i}");
                if (i % 3 == 0) sandbox.Lance.SetOutcome(id, "emails", LanceOutcome.NotFound);
            }
        });
        try
        {
            await scenario.Bus.PublishAsync(selection);
            await scenario.Bus.PublishAsync(selection); // the same selection again: still one selection
            await Eventually.TrueAsync(() => scenario.Bus.SelectionSummaries.ContainsKey(selection.SelectionId), Deadline, "the selection summary");

            // The deterministic search skips the excluded person, then takes six from index two.
            var selected = people.Where(p => p != people[3]).Skip(2).Take(6).ToList();
            var summary = Assert.Single(scenario.Bus.SelectionSummaries[selection.SelectionId]);
            Assert.Equal(6, summary.Selected);
            Assert.Null(summary.Refused);
            Assert.Equal("vp-q4", summary.CorrelationData["campaign"]);
            Assert.Equal(6, summary.Outcomes.Values.Sum());
            foreach (var person in selected)
            {
                var requestId = SelectionEnrichmentRequested.RequestIdFor(selection.SelectionId, person);
                Assert.Contains(requestId, summary.RequestIds);
                var completed = Assert.Single(scenario.Bus.Completions[requestId]);
                Assert.Equal(selection.SelectionId.ToString(), completed.CorrelationData["selectionId"]);
                Assert.Equal("vp-q4", completed.CorrelationData["campaign"]);
                Assert.Equal(people.IndexOf(person) % 3 == 0 ? Outcome.NotFound : Outcome.Found, completed.Outcome);
                // A new record, pending in Lance's answer, charged at submit (the sandbox's default reading).
                Assert.Equal(1m, completed.CreditsCharged);
            }
            Assert.All(scenario.Sandbox.Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task SelectionWithoutCreditsIsSummarisedAsRefused()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            sandbox.Lance.Settings.Credits = 0;
            sandbox.Lance.AddPerson("00000000-0000-4000-8000-000000000001", "Vic", "Vp");
        });
        var selection = new SelectionEnrichmentRequested { SelectionId = Guid.NewGuid(), TargetCount = 1, Field = EnrichmentField.Phone };

        using var response = await scenario.Relay.Http.PostAsJsonAsync("selections", selection);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.TrueAsync(() => scenario.Bus.SelectionSummaries.ContainsKey(selection.SelectionId), Deadline, "the selection summary");

        var summary = Assert.Single(scenario.Bus.SelectionSummaries[selection.SelectionId]);
        Assert.Equal(Outcome.InsufficientCredits, summary.Refused);
        Assert.Equal(0, summary.Selected);
        var status = await scenario.Relay.Http.GetFromJsonAsync<JsonElement>($"selections/{selection.SelectionId}");
        Assert.Equal("completed", status.GetProperty("state").GetString());
    }

    static EnrichmentRequested Request(string personId, IReadOnlyList<EnrichmentField> fields) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = personId },
        Fields = fields,
        CorrelationData = new Dictionary<string, string> { ["person"] = personId },
    };
}
