using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// The identity cache end to end: the same 1,000 people asked twice through a Lance → Precept waterfall, in the sandbox
/// population where each provider finds its own overlapping part (Lance 50%, Precept 60%); the second time the relay
/// pays for nothing it already knows.
/// </summary>
public sealed class IdentityCacheRelayTests(ITestOutputHelper output)
{
    const int LeadCount = 1_000;
    static readonly FoundShare Lance = new(0.5, Seed: 16);
    static readonly FoundShare Precept = new(0.6, Seed: 61);
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task RunningTheSameLeadsTwiceCostsAtLeastNinetyPercentFewerCreditsTheSecondTime()
    {
        var people = Enumerable.Range(0, LeadCount)
            .Select(i => new Lead { LancePersonId = Guid.NewGuid().ToString(), LinkedInUrl = $"https://www.linkedin.com/in/cached-{i}-{Guid.NewGuid():N}" })
            .ToList();
        List<EnrichmentRequested> Run() => people.Select(p => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = p,
            Fields = [EnrichmentField.Email, EnrichmentField.Phone],
            Providers = [ProviderName.Lance, ProviderName.Precept],
        }).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            sandbox.Lance.Settings.Population = Lance;
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Precept.Settings.Population = Precept;
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
        });
        try
        {
            decimal Credits() => scenario.Sandbox.Lance.Counters.CreditsCharged + scenario.Sandbox.Precept.Counters.CreditsCharged;
            int Submits() => scenario.Sandbox.Lance.Counters.BulkCalls + scenario.Sandbox.Precept.Counters.SubmitCalls;

            var first = Run();
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(first.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(first.Select(r => r.RequestId), Deadline);
            var firstTime = clock.Elapsed;
            var (firstCredits, firstSubmits) = (Credits(), Submits());

            var second = Run();
            clock.Restart();
            await Task.WhenAll(second.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(second.Select(r => r.RequestId), Deadline);
            var secondTime = clock.Elapsed;
            var secondCredits = Credits() - firstCredits;
            var secondSubmits = Submits() - firstSubmits;

            var (firstFound, secondFound) = (0, 0);
            foreach (var (before, again) in first.Zip(second))
            {
                var was = Assert.Single(scenario.Bus.Completions[before.RequestId].DistinctBy(c => c.EventId));
                var now = Assert.Single(scenario.Bus.Completions[again.RequestId].DistinctBy(c => c.EventId));
                firstFound += was.Outcome == Outcome.Found ? 1 : 0;
                secondFound += now.Outcome == Outcome.Found ? 1 : 0;
                // The same answer, at no cost, from attempts marked as the cache's, each contact with the provider that found it.
                Assert.Equal(was.Outcome, now.Outcome);
                Assert.Equal(was.Emails, now.Emails);
                Assert.Equal(was.Phones, now.Phones);
                Assert.Equal(was.Contacts, now.Contacts);
                Assert.Equal(0m, now.CreditsCharged);
                Assert.All(now.Attempts, a => Assert.True(a.FromCache));
            }
            var saving = firstCredits == 0 ? 0 : 100 * (1 - secondCredits / firstCredits);
            output.WriteLine($"[figure] identity cache, {LeadCount} leads × email+phone, lance→precept (Sqlite): first run {firstCredits:0.#} credits, " +
                             $"{firstSubmits} submits, found {Pct(firstFound)}, {firstTime.TotalSeconds:F1} s; second run {secondCredits:0.#} credits, " +
                             $"{secondSubmits} submits, found {Pct(secondFound)}, {secondTime.TotalSeconds:F1} s; saving {saving:F1}%");
            Assert.True(firstCredits > 0);
            Assert.True(secondCredits <= firstCredits / 10, $"second run cost {secondCredits} of {firstCredits}");
            Assert.Equal(0, secondSubmits);
            Assert.Equal(firstFound, secondFound);

            // Forgetting one person: the next request for them goes to the providers again.
            var person = people.First(p => Lance.Finds("lance", p.LancePersonId!, "email"));
            using var forget = new HttpRequestMessage(HttpMethod.Delete, $"admin/identities?lancePersonId={person.LancePersonId}");
            using var unauthorized = await scenario.Relay.Http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, forget.RequestUri));
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
            forget.Headers.Add("X-Api-Key", RelayScenario.AdminKey);
            using var forgotten = await scenario.Relay.Http.SendAsync(forget);
            Assert.Equal(HttpStatusCode.OK, forgotten.StatusCode);
            var deleted = await forgotten.Content.ReadFromJsonAsync<JsonElement>();
            // Email and phone under the person id and the LinkedIn profile, and the found email's key.
            Assert.Equal(4, deleted.GetProperty("rowsDeleted").GetInt32());
            Assert.Equal(3, deleted.GetProperty("identityKeys").GetInt32());
            var third = new EnrichmentRequested
            {
                RequestId = Guid.NewGuid(), Lead = person, Fields = [EnrichmentField.Email], Providers = [ProviderName.Lance, ProviderName.Precept],
            };
            await scenario.Bus.PublishAsync(third);
            await scenario.Bus.WaitForCompletionsAsync([third.RequestId], Deadline);
            Assert.False(Assert.Single(scenario.Bus.Completions[third.RequestId].DistinctBy(c => c.EventId)).Attempts.Single().FromCache);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    static string Pct(int count) => $"{100.0 * count / LeadCount:F1}%";
}
