using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Woodpecker;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Woodpecker end to end: batched submits of at most 50, one request at a time, scheduled polls, prospect lookups.</summary>
[RunsLong(90)]
public sealed class WoodpeckerRelayTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(Engine.Sqlite)]
    [InlineData(Engine.Postgres)]
    public async Task LeadsAndProspectsCompleteOnceInFullBatchesWithOneRequestAtATime(Engine engine)
    {
        var leads = Enumerable.Range(0, 120).Select(i => LeadRequest($"u{i}-{Guid.NewGuid():N}")).ToList();
        var prospects = Enumerable.Range(0, 10).Select(i => ProspectRequest($"p{i}-{Guid.NewGuid():N}@acme.com")).ToList();
        await using var scenario = await RelayScenario.StartAsync(engine, sandbox =>
        {
            var woodpecker = sandbox.Woodpecker;
            woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(400);
            // Make any overlap of two calls visible to the sandbox.
            woodpecker.Settings.RequestProcessingTime = TimeSpan.FromMilliseconds(20);
            foreach (var request in leads.Where((_, i) => i % 3 == 2))
                woodpecker.SetLeadOutcome(Uid(request), LeadConversion.NotConverted);
            foreach (var (request, i) in prospects.Select((p, i) => (p, i)))
            {
                woodpecker.AddProspect(request.Lead!.Email!, "Pat", $"P{i}", "Acme", "acme.com", null);
                woodpecker.SetProspectEnrichment(request.Lead.Email!, i % 2 == 0);
            }
        },
        // Everything below arrives within one window, so the batch fill is exact: 50 + 50 + 20.
        new Dictionary<string, string> { ["Providers__Woodpecker__FlushWindow"] = "00:00:03" });
        try
        {
            await Task.WhenAll(leads.Concat(prospects).Select(scenario.Bus.PublishAsync));
            await Task.WhenAll(leads.Take(5).Select(scenario.Bus.PublishAsync)); // repeats change nothing

            await scenario.Bus.WaitForCompletionsAsync(leads.Concat(prospects).Select(r => r.RequestId), Deadline);

            foreach (var (request, i) in leads.Select((r, i) => (r, i)))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
                Assert.Equal(ProviderName.Woodpecker, completed.Provider);
                Assert.Equal(request.CorrelationData, completed.CorrelationData);
                if (i % 3 == 2)
                {
                    Assert.Equal(Outcome.NotFound, completed.Outcome);
                    Assert.Equal(0m, completed.CreditsCharged);
                }
                else
                {
                    Assert.Equal(Outcome.Found, completed.Outcome);
                    Assert.Equal(1.5m, completed.CreditsCharged);
                    Assert.Contains("@", Assert.Single(completed.Emails));
                }
            }
            foreach (var (request, i) in prospects.Select((r, i) => (r, i)))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
                Assert.Equal(i % 2 == 0 ? Outcome.Found : Outcome.NotFound, completed.Outcome);
                if (completed.Outcome == Outcome.Found)
                    Assert.Equal(request.Lead!.Email, Assert.Single(completed.Emails));
            }

            var counters = scenario.Sandbox.Woodpecker.Counters;
            Assert.Equal(1, counters.MaxConcurrentRequests);
            Assert.Equal(0, counters.RequestsDroppedForConcurrency);
            Assert.True(counters.LargestBatch <= 50);
            Assert.Equal(3, counters.LeadSubmitCalls); // 120 leads = 50 + 50 + 20
            Assert.All(counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.All(counters.ProspectSubmissions.Values, n => Assert.Equal(1, n));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task PollsAndProspectReadsCostAtMostOneFifthOfARequestPerCompletion()
    {
        var leads = Enumerable.Range(0, 1000).Select(i => LeadRequest($"c{i}-{Guid.NewGuid():N}")).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(2);
            // 60% of the leads convert to prospects.
            foreach (var request in leads.Where((_, i) => i % 5 >= 3))
                sandbox.Woodpecker.SetLeadOutcome(Uid(request), LeadConversion.NotConverted);
        },
        // A window longer than the publishing takes, so every call but the last is full: 20 calls of 50.
        new Dictionary<string, string> { ["Providers__Woodpecker__FlushWindow"] = "00:00:03" });
        try
        {
            await Task.WhenAll(leads.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(leads.Select(r => r.RequestId), Deadline);

            var found = leads.Count(r => OutcomeOf(scenario, r) == Outcome.Found);
            var counters = scenario.Sandbox.Woodpecker.Counters;
            var reads = counters.ListCalls + counters.GetCalls + counters.StatusQueryCalls + counters.ProspectSearchCalls;
            var perCompletion = reads / (double)leads.Count;
            output.WriteLine($"[figure] Woodpecker poll cost: {reads} non-submit requests ({counters.ListCalls} list, {counters.GetCalls} get, " +
                             $"{counters.ProspectSearchCalls} prospect reads) for {leads.Count} completions = {perCompletion:0.000} per completion; " +
                             $"{counters.LeadSubmitCalls} submits; {found} found");
            Assert.Equal(600, found);
            Assert.True(perCompletion <= 0.2, $"{perCompletion:0.000} non-submit requests per completion");
            Assert.Equal(20, counters.LeadSubmitCalls);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(100));
            throw;
        }
    }

    [Fact]
    public async Task SubmitAnswersThatLeaveLeadsOutCompleteThemAsTheSeedsDefineThem()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100),
            new Dictionary<string, string>
            {
                // ReconcileAfter must outlast a submit (4 x RequestTimeout): short on both sides.
                ["Providers__Woodpecker__ReconcileAfter"] = "00:00:13",
                ["Providers__Woodpecker__RequestTimeout"] = "00:00:03",
                // The forced answer is for one submit: each step's requests must form one batch, however slowly they
                // arrive. Three fill a batch at once; the steps of two wait out the window.
                ["Providers__Woodpecker__BatchSize"] = "3",
                ["Providers__Woodpecker__FlushWindow"] = "00:00:03",
            });
        var woodpecker = scenario.Sandbox.Woodpecker;
        try
        {
            // PARTIALLY_ENQUEUED ("usually because available credits can cover fewer leads"): the batch holds one of
            // three; no batch holds the others, which are short of credits, not rejected.
            woodpecker.ForceNextSubmit("PARTIALLY_ENQUEUED", 1);
            var partial = await SubmitAsync(scenario, 3);
            Assert.Equal(1, partial.Count(r => OutcomeOf(scenario, r) == Outcome.Found));
            Assert.Equal(2, partial.Count(r => OutcomeOf(scenario, r) == Outcome.InsufficientCredits));
            Assert.All(partial.Where(r => OutcomeOf(scenario, r) != Outcome.Found), r =>
                Assert.Contains("does not say which", Assert.Single(scenario.Bus.Completions[r.RequestId]).Detail));

            // NOT_ENQUEUED ("already pending") with no batch holding them: looked for, then failed; never rejected, never sent again.
            woodpecker.ForceNextSubmit("NOT_ENQUEUED", 0);
            var ghosts = await SubmitAsync(scenario, 2);
            Assert.All(ghosts, r =>
            {
                var completed = Assert.Single(scenario.Bus.Completions[r.RequestId]);
                Assert.Equal(Outcome.Failed, completed.Outcome);
                Assert.Contains("NOT_ENQUEUED", completed.Detail);
                Assert.False(woodpecker.Counters.LeadSubmissions.ContainsKey(Uid(r))); // never queued, nor sent again
            });

            // CREDITS_EXHAUSTED: InsufficientCredits.
            woodpecker.Settings.Credits = 0;
            Assert.All(await SubmitAsync(scenario, 2), r => Assert.Equal(Outcome.InsufficientCredits, OutcomeOf(scenario, r)));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task LeadsAlreadyPendingAreFollowedToTheBatchThatHoldsThem()
    {
        // Woodpecker holds every batch pending until the relay has met both leads pending: no race against a delay. The
        // repeat must reach Woodpecker as a relay without the identity cache would send it (another relay sharing the
        // Woodpecker key, say), so the cache and its coalescing of identical requests are off here.
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
            sandbox.Woodpecker.Settings.HoldProcessing = true;
        }, new Dictionary<string, string> { ["Cache__FoundFor"] = "00:00:00", ["Cache__Coalesce"] = "false" });
        var woodpecker = scenario.Sandbox.Woodpecker;
        try
        {
            // Lead A was queued at Woodpecker by someone else; lead B by this relay, for an earlier request.
            var theirs = LeadRequest($"a-{Guid.NewGuid():N}");
            Assert.Equal(200, woodpecker.SubmitLeads(System.Text.Json.Nodes.JsonNode.Parse(
                $$"""{"leads":[{{theirs.Lead!.WoodpeckerLead!.Value.GetRawText()}}]}""")).Status);
            var earlier = LeadRequest($"b-{Guid.NewGuid():N}");
            await scenario.Bus.PublishAsync(earlier);
            await Eventually.TrueAsync(() => woodpecker.Counters.LeadSubmissions.ContainsKey(Uid(earlier)), Deadline, "the earlier request to be queued");

            var repeat = earlier with { RequestId = Guid.NewGuid() };
            await Task.WhenAll(scenario.Bus.PublishAsync(theirs), scenario.Bus.PublishAsync(repeat));
            await Eventually.TrueAsync(() => new[] { theirs, repeat }.All(r => scenario.Relay.LogText.Split('\n')
                    .Any(line => line.Contains(r.RequestId.ToString()) && line.Contains("already holds it and is followed"))),
                Deadline, "the relay to follow both leads to the batches that hold them");
            woodpecker.Settings.HoldProcessing = false;
            await scenario.Bus.WaitForCompletionsAsync([theirs.RequestId, earlier.RequestId, repeat.RequestId], Deadline);

            var followed = Assert.Single(scenario.Bus.Completions[theirs.RequestId]);
            Assert.Equal(Outcome.Found, followed.Outcome);
            Assert.Equal(1.5m, followed.CreditsCharged);
            Assert.Contains("NOT_ENQUEUED", followed.Detail);
            var first = Assert.Single(scenario.Bus.Completions[earlier.RequestId]);
            var second = Assert.Single(scenario.Bus.Completions[repeat.RequestId]);
            Assert.Equal(Outcome.Found, first.Outcome);
            Assert.Equal(Outcome.Found, second.Outcome);
            Assert.Equal(first.Emails, second.Emails);
            Assert.Equal(1.5m, first.CreditsCharged);
            Assert.Equal(0m, second.CreditsCharged); // one charge at Woodpecker, recorded once
            var counters = woodpecker.Counters;
            Assert.All(counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
            Assert.Equal(3m, counters.CreditsCharged);
            Assert.Contains("already holds it and is followed", scenario.Relay.LogText);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task AConvertedLeadWhoseProspectIsNeverMatchedFailsWithTheCreditsItCost()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
            {
                sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
                sandbox.Woodpecker.Settings.ProspectVisibilityDelay = TimeSpan.FromHours(1);
            },
            new Dictionary<string, string> { ["Providers__Woodpecker__ProspectMatchTimeout"] = "00:00:03" });

        var request = Assert.Single(await SubmitAsync(scenario, 1));

        var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
        Assert.Equal(Outcome.Failed, completed.Outcome);
        Assert.Equal(1.5m, completed.CreditsCharged);
        Assert.Contains("could not be matched", completed.Detail);
        Assert.Empty(completed.Emails);
    }

    [Fact]
    public async Task WithOnlyWhatTheVendorDocumentsEveryLeadAndProspectStillCompletesRight()
    {
        var leads = Enumerable.Range(0, 30).Select(i => LeadRequest($"d{i}-{Guid.NewGuid():N}")).ToList();
        var enriched = ProspectRequest($"enriched-{Guid.NewGuid():N}@acme.com");
        var plain = ProspectRequest($"plain-{Guid.NewGuid():N}@acme.com");
        var stranger = ProspectRequest($"stranger-{Guid.NewGuid():N}@acme.com");
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            var woodpecker = sandbox.Woodpecker;
            woodpecker.Settings.UseDocumentedOnly();
            woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(400);
            // More prospects than a page holds, all older than the batches: in id order, the new ones come after them.
            for (var i = 0; i < 1100; i++)
                woodpecker.AddProspect($"old{i}@elsewhere.com", "Old", $"P{i}", "Elsewhere", "elsewhere.com");
            foreach (var request in leads.Where((_, i) => i % 3 == 2))
                woodpecker.SetLeadOutcome(Uid(request), LeadConversion.NotConverted);
            woodpecker.AddProspect(enriched.Lead!.Email!, "Pat", "Enriched", "Acme", "acme.com");
            woodpecker.AddProspect(plain.Lead!.Email!, "Pat", "Plain", "Acme", "acme.com");
            woodpecker.SetProspectEnrichment(plain.Lead.Email!, false);
        });
        try
        {
            var all = leads.Append(enriched).Append(plain).Append(stranger).ToList();
            await Task.WhenAll(all.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(all.Select(r => r.RequestId), Deadline);

            foreach (var (request, i) in leads.Select((r, i) => (r, i)))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId]);
                Assert.Equal(i % 3 == 2 ? Outcome.NotFound : Outcome.Found, completed.Outcome);
                if (completed.Outcome == Outcome.Found)
                    Assert.Equal($"erlich.{Uid(request).Replace("_", "-").ToLowerInvariant()}@bachmanity.com", Assert.Single(completed.Emails));
            }
            Assert.Equal(Outcome.Found, Assert.Single(scenario.Bus.Completions[enriched.RequestId]).Outcome);
            Assert.Equal(Outcome.NotFound, Assert.Single(scenario.Bus.Completions[plain.RequestId]).Outcome);
            // Not one of the account's prospects, with a status the pages do not name: failed, never found.
            Assert.Equal(Outcome.Failed, Assert.Single(scenario.Bus.Completions[stranger.RequestId]).Outcome);
            var counters = scenario.Sandbox.Woodpecker.Counters;
            output.WriteLine($"[figure] Woodpecker, documented-only readings: {all.Count} requests completed with {counters.ListCalls} list, " +
                             $"{counters.GetCalls} get, {counters.StatusQueryCalls} status and {counters.ProspectSearchCalls} prospect reads");
            Assert.All(counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task PhoneIsSaidNotLookedUpAndPhoneAloneIsRefusedAtTheDoor()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100));
        var both = LeadRequest($"ph-{Guid.NewGuid():N}") with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] };
        var phoneOnly = LeadRequest($"po-{Guid.NewGuid():N}") with { Fields = [EnrichmentField.Phone] };

        await Task.WhenAll(scenario.Bus.PublishAsync(both), scenario.Bus.PublishAsync(phoneOnly));
        await scenario.Bus.WaitForCompletionsAsync([both.RequestId, phoneOnly.RequestId], Deadline);

        var found = Assert.Single(scenario.Bus.Completions[both.RequestId]);
        Assert.Equal(Outcome.Found, found.Outcome);
        Assert.Empty(found.Phones);
        Assert.Contains("Phone was not looked up: Woodpecker finds emails only.", found.Detail);
        var refused = Assert.Single(scenario.Bus.Completions[phoneOnly.RequestId]);
        Assert.Equal(Outcome.Rejected, refused.Outcome);
        Assert.Contains("Woodpecker: finds emails only", refused.Detail);
        Assert.False(scenario.Sandbox.Woodpecker.Counters.LeadSubmissions.ContainsKey(Uid(phoneOnly)));
    }

    [Fact]
    public async Task BatchStillPendingAtTheDeadlineTimesOut()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromHours(1),
            new Dictionary<string, string> { ["Providers__Woodpecker__Deadline"] = "00:00:03" });

        var requests = await SubmitAsync(scenario, 2);

        Assert.All(requests, r =>
        {
            var completed = Assert.Single(scenario.Bus.Completions[r.RequestId]);
            Assert.Equal(Outcome.TimedOut, completed.Outcome);
            Assert.Contains("Woodpecker", completed.Detail);
        });
    }

    static async Task<List<EnrichmentRequested>> SubmitAsync(RelayScenario scenario, int count)
    {
        var batch = Enumerable.Range(0, count).Select(i => LeadRequest($"s{i}-{Guid.NewGuid():N}")).ToList();
        await Task.WhenAll(batch.Select(scenario.Bus.PublishAsync));
        await scenario.Bus.WaitForCompletionsAsync(batch.Select(r => r.RequestId), Deadline);
        return batch;
    }

    static Outcome OutcomeOf(RelayScenario scenario, EnrichmentRequested request) =>
        Assert.Single(scenario.Bus.Completions[request.RequestId]).Outcome;

    static string Uid(EnrichmentRequested request) => request.Lead!.WoodpeckerLead!.Value.GetProperty("uid").GetString()!;

    static EnrichmentRequested LeadRequest(string uid)
    {
        var slug = uid.Replace("_", "-").ToLowerInvariant();
        var payload = $$"""
            { "uid": "{{uid}}", "full_name": "Erlich {{slug}}", "first_name": "Erlich", "last_name": "{{slug}}",
              "linkedin_url": "linkedin.com/in/erlich-{{slug}}", "company_name": "Bachmanity", "company_website": "bachmanity.com",
              "job_title": "Ceo", "job_title_levels": ["Cxo"], "country": "United States" }
            """;
        return new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { WoodpeckerLead = JsonDocument.Parse(payload).RootElement.Clone() },
            Fields = [EnrichmentField.Email],
            CorrelationData = new Dictionary<string, string> { ["uid"] = uid },
        };
    }

    static EnrichmentRequested ProspectRequest(string email) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { Email = email, FirstName = "Pat" },
        Fields = [EnrichmentField.Email],
        Providers = [ProviderName.Woodpecker],
        CorrelationData = new Dictionary<string, string> { ["email"] = email },
    };
}
