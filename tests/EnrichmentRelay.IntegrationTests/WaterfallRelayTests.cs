using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// A waterfall end to end: Lance then Precept over 1,000 leads, in a sandbox population where each finds its own,
/// overlapping part of the contacts (Lance 50%, Precept 60% of the (lead, field) pairs, decided independently).
/// </summary>
public sealed class WaterfallRelayTests(ITestOutputHelper output)
{
    const int LeadCount = 1_000;
    static readonly FoundShare Lance = new(0.5, Seed: 16);
    static readonly FoundShare Precept = new(0.6, Seed: 61);
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(Engine.Sqlite)]
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

    static string RelayName<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    static string Pct(int count) => $"{100.0 * count / LeadCount:F1}%";

    sealed record WaterfallLead(string PersonId, string LinkedInUrl);
}
