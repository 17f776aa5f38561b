using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// A message that keeps failing: retried at once, redelivered later through RabbitMQ delay queues, then kept as a
/// dead letter that an operator can read and send back, one at a time or by time range.
/// </summary>
[RunsLong(85)]
public sealed class DeadLetterTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    const string Queue = "selection-enrichment-requested";

    [Fact]
    public async Task AMessageThatKeepsFailingIsRedeliveredLaterThenKeptAndCanBeReplayed()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
            sandbox.Lance.AddPerson("00000000-0000-4000-8000-000000000001", "Vic", "Vp");
            // Lance is down: every bulk call answers 500, so the selection consumer throws.
            sandbox.Lance.FailNextSubmits(1000, 500);
        }, new Dictionary<string, string>
        {
            ["Bus__RetryIntervals__0"] = "00:00:00.100",
            ["Bus__RedeliveryDelays__0"] = "00:00:01",
            ["Bus__RedeliveryDelays__1"] = "00:00:02",
        });
        scenario.Relay.Http.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.AdminKey);
        try
        {
            var first = Selection();
            await scenario.Bus.PublishAsync(first);

            var page = await Eventually.ReturnsAsync(() => ListAsync(scenario), p => p.Total >= 1, Deadline, "the selection to become a dead letter");
            var letter = Assert.Single(page.Items);
            Assert.Equal(Queue, letter.Queue);
            Assert.Equal(2, letter.Redeliveries);
            Assert.Contains("Lance answered 500", letter.Reason);
            Assert.Null(letter.ReplayedAt);
            // Both delays waited in a queue of their own; each try was one bulk call (1 + 1 immediate retry, 3 deliveries).
            Assert.Equal(0u, await scenario.Bus.QueueLengthAsync($"{Queue}_delay_1s"));
            Assert.Equal(0u, await scenario.Bus.QueueLengthAsync($"{Queue}_delay_2s"));
            Assert.Equal(6, scenario.Sandbox.Lance.Counters.BulkCalls);
            Assert.False(await scenario.Bus.QueueExistsAsync($"{Queue}_error"), "nothing went to MassTransit's error queue");

            var detail = await scenario.Relay.Http.GetFromJsonAsync<JsonElement>($"admin/dead-letters/{letter.Id}");
            Assert.Contains(first.SelectionId.ToString(), detail.GetProperty("body").GetString());

            // Lance is back: one replay and the selection goes through, once.
            scenario.Sandbox.Lance.FailNextSubmits(0, 500);
            using (var replay = await PostAsync(scenario, $"admin/dead-letters/{letter.Id}/replay"))
                Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
            await Eventually.TrueAsync(() => scenario.Bus.SelectionSummaries.ContainsKey(first.SelectionId), Deadline, "the replayed selection's summary");
            Assert.Equal(1, Assert.Single(scenario.Bus.SelectionSummaries[first.SelectionId]).Selected);

            // Two more fail while Lance is down; a range replay sends back exactly those, and a second one nothing.
            var since = DateTimeOffset.UtcNow;
            scenario.Sandbox.Lance.FailNextSubmits(1000, 500);
            var later = new[] { Selection(), Selection() };
            foreach (var selection in later)
                await scenario.Bus.PublishAsync(selection);
            await Eventually.ReturnsAsync(() => ListAsync(scenario, "?pending=true"), p => p.Total >= 2, Deadline, "two more dead letters");
            scenario.Sandbox.Lance.FailNextSubmits(0, 500);
            var range = $"admin/dead-letters/replay?from={Uri.EscapeDataString(since.AddSeconds(-1).ToString("O"))}";
            var replayed = await ReadAsync(await PostAsync(scenario, range));
            Assert.Equal(2, replayed.GetProperty("replayed").GetInt32());
            await Eventually.TrueAsync(() => later.All(s => scenario.Bus.SelectionSummaries.ContainsKey(s.SelectionId)), Deadline, "the range replay's summaries");
            Assert.Equal(0, (await ReadAsync(await PostAsync(scenario, range))).GetProperty("replayed").GetInt32());

            var all = await ListAsync(scenario);
            output.WriteLine($"[figure] dead letters: {all.Total} kept after 1 immediate retry and 2 delayed redeliveries each; " +
                             $"{all.Items.Count(i => i.ReplayedAt is not null)} replayed (1 by id, 2 by time range), all 3 selections then completed once");
            Assert.Equal(3, all.Total);
            Assert.All(all.Items, i => Assert.Equal(1, i.ReplayCount));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task WithQuorumQueuesEveryQueueOfTheRelayIsQuorumAndAFailingMessageStillWaitsThenBecomesADeadLetter()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
            sandbox.Lance.FailNextSubmits(1000, 500);
        }, new Dictionary<string, string>
        {
            ["Bus__QueueType"] = "Quorum",
            ["Bus__RetryIntervals__0"] = "00:00:00.100",
            ["Bus__RedeliveryDelays__0"] = "00:00:01",
        });
        scenario.Relay.Http.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.AdminKey);
        try
        {
            // Through the quorum delay queue (TTL, then dead-lettered back at least once) to the dead-letter table.
            await scenario.Bus.PublishAsync(Selection());
            var page = await Eventually.ReturnsAsync(() => ListAsync(scenario), p => p.Total >= 1, Deadline, "the selection to become a dead letter");
            Assert.Equal(1, Assert.Single(page.Items).Redeliveries);
            Assert.Equal(4, scenario.Sandbox.Lance.Counters.BulkCalls); // 2 deliveries, each with 1 immediate retry

            // With the ledger unable to keep it, a dead letter goes to MassTransit's error queue: a quorum queue as well.
            await using (var db = new Npgsql.NpgsqlConnection(scenario.Database.ConnectionString))
            {
                await db.OpenAsync();
                await using var away = new Npgsql.NpgsqlCommand("ALTER TABLE dead_letters RENAME TO dead_letters_away", db);
                await away.ExecuteNonQueryAsync();
            }
            await scenario.Bus.PublishAsync(Selection());
            await Eventually.ReturnsAsync(async () => await scenario.Bus.QueueExistsAsync($"{Queue}_error") ? await scenario.Bus.QueueLengthAsync($"{Queue}_error") : 0u,
                waiting => waiting == 1, Deadline, "the second selection in the error queue");

            var queues = await TestEnvironment.QueuesAsync(scenario.VirtualHost);
            // The relay's own: not the test subscriber's, nor MassTransit's temporary bus queue (exclusive, it goes with the connection).
            var relays = queues.Where(q => !q.Key.StartsWith("it-subscriber-", StringComparison.Ordinal) && !q.Key.Contains("_bus_", StringComparison.Ordinal))
                .ToDictionary();
            string[] expected = ["enrichment-requested", Queue, "poll-precept", "poll-woodpecker", "poll-lance", "provider-job-retry", $"{Queue}_delay_1s_quorum", $"{Queue}_error"];
            Assert.Equal(expected.Order(), relays.Keys.Order());
            Assert.All(relays, q => Assert.Equal("quorum", q.Value.Type));
            Assert.Contains("at-least-once", relays[$"{Queue}_delay_1s_quorum"].Arguments);
            output.WriteLine($"[figure] quorum queues: {relays.Count} queues of the relay, all quorum ({string.Join(", ", relays.Keys.Order())}); " +
                             "a failing selection waited in the quorum delay queue, came back once and became a dead letter; with the ledger away, the next went to the quorum error queue");
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task AJobThatCannotBeReadBacksOffThenBecomesADeadLetterWhileEveryOtherJobOfTheSameTicksCompletes()
    {
        var poisonName = $"Poison{Guid.NewGuid():N}";
        var badPrecept = new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Pat", LastName = poisonName, CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email],
            Providers = [ProviderName.Precept],
        };
        var badEmail = $"refused-{Guid.NewGuid():N}@acme.com";
        var badWoodpecker = Prospect(badEmail);
        var goodPrecept = Enumerable.Range(0, 10).Select(i => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = $"G{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email],
            Providers = [ProviderName.Precept],
        }).ToList();
        var goodWoodpecker = Enumerable.Range(0, 5).Select(i => Prospect($"fine{i}-{Guid.NewGuid():N}@acme.com")).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            // Every read of the Precept job holding the poison lead answers 500, so neither its callback (verified by a
            // read) nor the sweep can apply it; every Woodpecker status query naming the refused email answers 400.
            sandbox.Precept.FailReadsOfJobsHolding(poisonName);
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
            foreach (var request in goodWoodpecker.Append(badWoodpecker))
                sandbox.Woodpecker.AddProspect(request.Lead!.Email!, "Pat", "Fine", "Acme", "acme.com");
            sandbox.Woodpecker.FailStatusQueriesFor(badEmail, 400);
        }, new Dictionary<string, string>
        {
            ["Jobs__MaxReadFailures"] = "3",
            ["Jobs__FirstBackOff"] = "00:00:01",
            ["Jobs__MaxBackOff"] = "00:00:02",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:02",
        });
        scenario.Relay.Http.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.AdminKey);
        try
        {
            // The bad leads first, in jobs of their own; the good ones then share the ticks that keep failing on them.
            await scenario.Bus.PublishAsync(badPrecept);
            await scenario.Bus.PublishAsync(badWoodpecker);
            await Eventually.TrueAsync(() => scenario.Sandbox.Precept.Jobs.Count == 1 && scenario.Sandbox.Woodpecker.Batches.Count == 1,
                Deadline, "the bad leads' jobs at both providers");
            await Task.WhenAll(goodPrecept.Concat(goodWoodpecker).Select(scenario.Bus.PublishAsync));

            await scenario.Bus.WaitForCompletionsAsync(goodPrecept.Concat(goodWoodpecker).Select(r => r.RequestId), Deadline);
            foreach (var request in goodPrecept.Concat(goodWoodpecker))
                Assert.Equal(Outcome.Found, Assert.Single(scenario.Bus.Completions[request.RequestId]).Outcome);

            var letters = await Eventually.ReturnsAsync(() => ListAsync(scenario, "?pending=true"),
                p => p.Items.Any(i => i.Reason.Contains("of Precept")) && p.Items.Any(i => i.Reason.Contains("of Woodpecker")),
                Deadline, "both bad jobs as dead letters");
            // The poison lead's job was the first Precept saw (the good leads went after it, in jobs of their own).
            var badJob = scenario.Sandbox.Precept.Jobs[0];
            Assert.Equal(1, badJob.Total);
            Assert.All(letters.Items, l => Assert.Equal("provider-job-retry", l.Queue));
            Assert.Contains(letters.Items, l => l.Reason.Contains(badJob.Name!) && l.Reason.Contains("in a row"));
            Assert.Contains(letters.Items, l => l.Reason.Contains("of Woodpecker") && l.Reason.Contains("3 reads in a row") && l.Reason.Contains("400"));
            // Set aside, not completed: nothing was decided about the bad leads.
            Assert.False(scenario.Bus.Completions.ContainsKey(badPrecept.RequestId));
            Assert.False(scenario.Bus.Completions.ContainsKey(badWoodpecker.RequestId));
            output.WriteLine($"[figure] one failing Precept job and one refused Woodpecker status query: {goodPrecept.Count + goodWoodpecker.Count} " +
                             $"other requests of the same ticks completed found; {letters.Items.Count} dead letters after 3 attempts in a row each " +
                             "(back-off 1 s doubling, at most 2 s)");

            // The providers answer again: replaying the dead letters reads the jobs again and completes them, once.
            scenario.Sandbox.Precept.FailReadsOf(badJob.EnrichmentId, fail: false);
            scenario.Sandbox.Woodpecker.FailStatusQueriesFor(badEmail, 0);
            foreach (var letter in letters.Items)
                using (var replay = await PostAsync(scenario, $"admin/dead-letters/{letter.Id}/replay"))
                    Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
            await scenario.Bus.WaitForCompletionsAsync([badPrecept.RequestId, badWoodpecker.RequestId], Deadline);
            Assert.Equal(Outcome.Found, Assert.Single(scenario.Bus.Completions[badPrecept.RequestId]).Outcome);
            Assert.Equal(Outcome.Found, Assert.Single(scenario.Bus.Completions[badWoodpecker.RequestId]).Outcome);
            // Nothing was sent twice to get there: every lead submitted once, and each request completed once.
            Assert.All(goodPrecept.Concat(goodWoodpecker).Append(badPrecept).Append(badWoodpecker),
                r => Assert.Single(scenario.Bus.Completions[r.RequestId].Select(c => c.EventId).Distinct()));
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            Assert.Equal(goodPrecept.Count + 1, precept.LeadSubmissions.Count);
            Assert.All(precept.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.Equal(goodWoodpecker.Count + 1, woodpecker.ProspectSubmissions.Count);
            Assert.All(woodpecker.ProspectSubmissions.Values, n => Assert.Equal(1, n));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    static EnrichmentRequested Prospect(string email) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { Email = email, FirstName = "Pat" },
        Fields = [EnrichmentField.Email],
        Providers = [ProviderName.Woodpecker],
    };

    [Fact]
    public async Task AdminRoutesAnswer401WithoutTheKey()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);

        using var none = await scenario.Relay.Http.GetAsync("admin/dead-letters");
        using var wrong = await scenario.Relay.Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "admin/dead-letters")
        {
            Headers = { { "X-Api-Key", RelayScenario.AdminKey + "x" } },
        });
        using var replay = await scenario.Relay.Http.PostAsync($"admin/dead-letters/{Guid.NewGuid()}/replay", null);
        using var ok = await scenario.Relay.Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "admin/dead-letters") { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } });

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.DoesNotContain(RelayScenario.AdminKey, await wrong.Content.ReadAsStringAsync());
    }

    sealed record Page(int Total, List<Item> Items);

    sealed record Item(Guid Id, string Queue, int Redeliveries, string Reason, DateTimeOffset? ReplayedAt, int ReplayCount);

    static SelectionEnrichmentRequested Selection() => new() { SelectionId = Guid.NewGuid(), TargetCount = 1, Field = EnrichmentField.Email };

    static async Task<Page> ListAsync(RelayScenario scenario, string query = "") =>
        (await scenario.Relay.Http.GetFromJsonAsync<Page>("admin/dead-letters" + query))!;

    static Task<HttpResponseMessage> PostAsync(RelayScenario scenario, string path) =>
        scenario.Relay.Http.PostAsync(path, new StringContent("", Encoding.UTF8, "application/json"));

    static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }
    }
}
