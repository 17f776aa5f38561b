using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// A waterfall end to end, in a sandbox population where each provider finds its own, overlapping part of the contacts
/// (decided independently per lead and field): Lance then Precept over 1,000 leads (Lance 50%, Precept 60%), and
/// Woodpecker, Lance, then Precept over 400 leads (Woodpecker 40% of the emails; it finds no phones).
/// </summary>
public sealed class WaterfallRelayTests(ITestOutputHelper output)
{
    const int LeadCount = 1_000;
    static readonly FoundShare Lance = new(0.5, Seed: 16);
    static readonly FoundShare Precept = new(0.6, Seed: 61);
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    // PostgreSQL only: the three-provider run below takes the waterfall through SQLite.
    [Theory]
    [InlineData(Engine.Postgres)]
    public async Task AWaterfallFindsWhatTheUnionOfItsProvidersAllowsAndAsksEachOnlyForWhatIsMissing(Engine engine)
    {
        var leads = Enumerable.Range(0, LeadCount).Select(i => new WaterfallLead(Guid.NewGuid().ToString(),
            $"https://www.linkedin.com/in/waterfall-{i}-{Guid.NewGuid():N}")).ToList();
        var requests = leads.Select(l => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { LancePersonId = l.PersonId, LinkedInUrl = l.LinkedInUrl },
            Fields = [EnrichmentField.Email, EnrichmentField.Phone],
            Providers = [ProviderName.Lance, ProviderName.Precept],
        }).ToList();
        await using var scenario = await RelayScenario.StartAsync(engine, sandbox =>
        {
            sandbox.Lance.Settings.Population = Lance;
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Precept.Settings.Population = Precept;
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
        });
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            clock.Stop();

            var precept = scenario.Sandbox.Precept.Counters;
            var foundRequests = 0;
            var unionRequests = 0;
            var foundFields = 0;
            var unionFields = 0;
            var byLanceAlone = 0;
            foreach (var (lead, request) in leads.Zip(requests))
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId].DistinctBy(c => c.EventId));
                var lance = (Email: Lance.Finds("lance", lead.PersonId, "email"), Phone: Lance.Finds("lance", lead.PersonId, "phone"));
                var missing = new[] { lance.Email ? null : "email", lance.Phone ? null : "phone" }.OfType<string>().ToList();
                var identity = lead.LinkedInUrl.ToLowerInvariant();
                var email = lance.Email || Precept.Finds("precept", identity, "email");
                var phone = lance.Phone || Precept.Finds("precept", identity, "phone");
                unionRequests += email || phone ? 1 : 0;
                unionFields += (email ? 1 : 0) + (phone ? 1 : 0);
                foundRequests += completed.Outcome == Outcome.Found ? 1 : 0;
                foundFields += (completed.Emails.Count > 0 ? 1 : 0) + (completed.Phones.Count > 0 ? 1 : 0);

                if (missing.Count == 0)
                {
                    // Lance found everything: Precept never saw the lead.
                    byLanceAlone++;
                    Assert.DoesNotContain(identity, precept.LeadSubmissions.Keys);
                    Assert.Equal([ProviderName.Lance], completed.Attempts.Select(a => a.Provider));
                }
                else
                {
                    // Precept got the lead once, asked only for what Lance did not find.
                    Assert.Equal(1, precept.LeadSubmissions[identity]);
                    Assert.Equal(string.Join('+', missing), precept.FieldsAsked[identity]);
                    Assert.Equal([ProviderName.Lance, ProviderName.Precept], completed.Attempts.Select(a => a.Provider));
                }
                // Each contact is marked with the provider that found it.
                Assert.Equal(lance.Email ? ProviderName.Lance : email ? ProviderName.Precept : null,
                    completed.Contacts.SingleOrDefault(c => c.Field == EnrichmentField.Email)?.Provider);
                Assert.Equal(lance.Phone ? ProviderName.Lance : phone ? ProviderName.Precept : null,
                    completed.Contacts.SingleOrDefault(c => c.Field == EnrichmentField.Phone)?.Provider);
            }
            Assert.All(scenario.Sandbox.Lance.Counters.Submissions.Values, n => Assert.Equal(1, n));

            // The status route shows the same contacts, each with the provider that found it.
            var both = requests.First(r => scenario.Bus.Completions[r.RequestId].First().Contacts.Select(c => c.Provider).Distinct().Count() == 2);
            var status = await scenario.Relay.Http.GetFromJsonAsync<JsonElement>($"enrichments/{both.RequestId}");
            Assert.Equal(scenario.Bus.Completions[both.RequestId].First().Contacts.Select(c => (RelayName(c.Field), c.Value, RelayName(c.Provider))),
                status.GetProperty("contacts").EnumerateArray().Select(c =>
                    (c.GetProperty("field").GetString()!, c.GetProperty("value").GetString()!, c.GetProperty("provider").GetString()!)));

            var lanceAlone = leads.Count(l => Lance.Finds("lance", l.PersonId, "email") || Lance.Finds("lance", l.PersonId, "phone"));
            output.WriteLine($"[figure] waterfall lance→precept ({engine}), {LeadCount} leads × email+phone: found {Pct(foundRequests)} of requests " +
                             $"(union allows {Pct(unionRequests)}; Lance alone {Pct(lanceAlone)}), {foundFields} of {2 * LeadCount} fields " +
                             $"(union allows {unionFields}); {byLanceAlone} leads never sent to Precept; {precept.JobsCreated} Precept jobs; " +
                             $"{clock.Elapsed.TotalSeconds:F1} s");
            Assert.InRange(foundRequests, unionRequests - LeadCount * 2 / 100, unionRequests);
            Assert.InRange(foundFields, unionFields - 2 * LeadCount * 2 / 100, unionFields);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    static readonly FoundShare Woodpecker = new(0.4, Seed: 40);
    const int ThreeProviderLeads = 400;

    /// <summary>
    /// Woodpecker → Lance → Precept, every lead carrying what each needs (a Lead Finder uid, a Lance person id, a LinkedIn
    /// URL), a third of the requests asking email and phone, a third email only, a third phone only. Woodpecker finds
    /// emails only: it is asked every request that asks an email (for the email alone), and passed over, with the reason,
    /// by a request that asks only the phone. Each next provider is asked only what the earlier ones did not find, and
    /// none is asked anything once the earlier ones found it all.
    /// </summary>
    [Fact]
    public async Task AThreeProviderWaterfallFindsTheUnionAndAsksEachLaterProviderOnlyForWhatIsStillMissing()
    {
        var requests = Enumerable.Range(0, ThreeProviderLeads).Select(i => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead
            {
                WoodpeckerLead = JsonDocument.Parse($$"""{"uid":"w{{i}}-{{Guid.NewGuid():N}}","first_name":"Erlich","last_name":"W{{i}}","company_name":"Bachmanity","company_website":"bachmanity.com"}""").RootElement.Clone(),
                LancePersonId = Guid.NewGuid().ToString(),
                LinkedInUrl = $"https://www.linkedin.com/in/three-{i}-{Guid.NewGuid():N}",
            },
            Fields = (i % 3) switch { 0 => [EnrichmentField.Email, EnrichmentField.Phone], 1 => [EnrichmentField.Email], _ => [EnrichmentField.Phone] },
            Providers = [ProviderName.Woodpecker, ProviderName.Lance, ProviderName.Precept],
        }).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
        {
            sandbox.Woodpecker.Settings.Population = Woodpecker;
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Lance.Settings.Population = Lance;
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
            sandbox.Precept.Settings.Population = Precept;
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
        });
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
            clock.Stop();

            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            var precept = scenario.Sandbox.Precept.Counters;
            int foundRequests = 0, unionRequests = 0, foundFields = 0, unionFields = 0, asked = 0, passedOver = 0;
            int[] askedOf = [0, 0, 0];
            foreach (var request in requests)
            {
                var completed = Assert.Single(scenario.Bus.Completions[request.RequestId].DistinctBy(c => c.EventId));
                var uid = request.Lead!.WoodpeckerLead!.Value.GetProperty("uid").GetString()!;
                var personId = request.Lead.LancePersonId!;
                var identity = request.Lead.LinkedInUrl!.ToLowerInvariant();
                var wanted = request.Fields!.Select(f => f == EnrichmentField.Email ? "email" : "phone").ToList();
                asked += wanted.Count;

                // What each provider is asked, by the rules, given what the population lets the earlier ones find.
                var forWoodpecker = wanted.Contains("email") ? ["email"] : new List<string>();
                var afterWoodpecker = wanted.Where(f => !(f == "email" && Woodpecker.Finds("woodpecker", uid, "email"))).ToList();
                var forLance = afterWoodpecker;
                var forPrecept = forLance.Where(f => !Lance.Finds("lance", personId, f)).ToList();
                var found = wanted.Where(f => !forPrecept.Contains(f) || Precept.Finds("precept", identity, f)).ToList();
                unionRequests += found.Count > 0 ? 1 : 0;
                unionFields += found.Count;
                foundRequests += completed.Outcome == Outcome.Found ? 1 : 0;
                foundFields += (completed.Emails.Count > 0 ? 1 : 0) + (completed.Phones.Count > 0 ? 1 : 0);

                // Woodpecker: asked every request that asks an email; a phone-only one passes it over, saying why.
                Assert.Equal(forWoodpecker.Count > 0 ? 1 : 0, woodpecker.LeadSubmissions.GetValueOrDefault(uid));
                if (forWoodpecker.Count == 0)
                {
                    passedOver++;
                    var skipped = Assert.Single(completed.Skipped);
                    Assert.Equal(ProviderName.Woodpecker, skipped.Provider);
                    Assert.Contains("finds emails only", skipped.Reason);
                }
                else
                    Assert.Empty(completed.Skipped);
                // Lance (its fields are "emails", "phones"): only the fields Woodpecker left, each once; nothing once Woodpecker found them all.
                Assert.Equal(forLance.Select(f => f + "s").Order(), lance.Submissions.Where(s => s.Key.StartsWith(personId + ":", StringComparison.Ordinal))
                    .Select(s => s.Key[(personId.Length + 1)..]).Order());
                Assert.All(lance.Submissions.Where(s => s.Key.StartsWith(personId + ":", StringComparison.Ordinal)), s => Assert.Equal(1, s.Value));
                // Precept: once, for what both left, or never.
                Assert.Equal(forPrecept.Count > 0 ? 1 : 0, precept.LeadSubmissions.GetValueOrDefault(identity));
                if (forPrecept.Count > 0)
                    Assert.Equal(string.Join('+', forPrecept), precept.FieldsAsked[identity]);

                ProviderName[] tried = [.. forWoodpecker.Count > 0 ? [ProviderName.Woodpecker] : Array.Empty<ProviderName>(),
                    .. forLance.Count > 0 ? [ProviderName.Lance] : Array.Empty<ProviderName>(),
                    .. forPrecept.Count > 0 ? [ProviderName.Precept] : Array.Empty<ProviderName>()];
                Assert.Equal(tried, completed.Attempts.Select(a => a.Provider));
                askedOf[0] += forWoodpecker.Count;
                askedOf[1] += forLance.Count;
                askedOf[2] += forPrecept.Count;
            }

            output.WriteLine($"[figure] waterfall woodpecker→lance→precept (Sqlite), {ThreeProviderLeads} leads, {asked} fields asked: found " +
                             $"{Pct(foundRequests, ThreeProviderLeads)} of requests (union allows {Pct(unionRequests, ThreeProviderLeads)}), " +
                             $"{foundFields} fields (union allows {unionFields}); fields asked of woodpecker/lance/precept {askedOf[0]}/{askedOf[1]}/{askedOf[2]}; " +
                             $"{passedOver} requests passed Woodpecker over (phone only); {clock.Elapsed.TotalSeconds:F1} s");
            Assert.InRange(foundRequests, unionRequests - ThreeProviderLeads * 2 / 100, unionRequests);
            Assert.InRange(foundFields, unionFields - asked * 2 / 100, unionFields);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    static string Pct(int count, int of) => $"{100.0 * count / of:F1}%";

    static string RelayName<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    static string Pct(int count) => $"{100.0 * count / LeadCount:F1}%";

    sealed record WaterfallLead(string PersonId, string LinkedInUrl);
}
