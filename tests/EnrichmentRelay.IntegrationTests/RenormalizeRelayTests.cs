using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Precept = EnrichmentRelay.Sandbox.Precept;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Re-normalization end to end: Precept (the sandbox over HTTP) writes phone numbers with separators, requests complete
/// with them as received; the mapping fix is a new relay configuration (<c>Providers:Precept:PhoneFormat=E164</c>) on
/// two fresh instances sharing the PostgreSQL ledger, which both run <c>POST /admin/renormalize</c> at once.
/// </summary>
public sealed class RenormalizeRelayTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AfterAMappingFixOnlyTheChangedRequestsGetOneCorrectionEachOnTheBus()
    {
        var started = Stopwatch.StartNew();
        var from = DateTimeOffset.UtcNow.AddMinutes(-1);
        // Three found with a phone (their phone changes under E.164), two found with an email only, one not found.
        var requests = Enumerable.Range(0, 6).Select(i => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = $"Renorm{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email, EnrichmentField.Phone],
        }).ToList();
        var changing = requests.Take(3).ToList();
        var unchanged = requests.Skip(3).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.PhoneStyle = Precept.PhoneStyle.Spaced;
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
            sandbox.Precept.SetOutcome(requests[3].Lead!.LastName!, Precept.LeadOutcome.EmailOnly);
            sandbox.Precept.SetOutcome(requests[4].Lead!.LastName!, Precept.LeadOutcome.EmailOnly);
            sandbox.Precept.SetOutcome(requests[5].Lead!.LastName!, Precept.LeadOutcome.NotFound);
        });
        await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
        await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
        var first = requests.ToDictionary(r => r.RequestId, r => Assert.Single(scenario.Bus.Completions[r.RequestId].DistinctBy(c => c.EventId)));
        Assert.All(changing, r => Assert.Matches(@"^\+1 555-\d{3}-\d{4}$", Assert.Single(first[r.RequestId].Phones)));
        Assert.All(first.Values, c => Assert.Equal((1, (Guid?)null), (c.Revision, c.Supersedes)));
        var vendor = scenario.Sandbox.Precept.Counters;
        var vendorCalls = (vendor.SubmitCalls, vendor.JobStatusCalls, vendor.CreditsCharged);

        // The route: the admin key, and a range that says what it means.
        var http = scenario.Relay.Http;
        using (var anonymous = await http.PostAsync($"admin/renormalize?from={Iso(from)}&to={Iso(from.AddHours(1))}", null))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        foreach (var (query, parameter) in new[]
                 {
                     ($"to={Iso(from)}", "from"),
                     ($"from={Iso(from)}&to={Iso(from)}", "to"),
                     ($"from=yesterday&to={Iso(from)}", "from"),
                     ($"from={Iso(from)}&to={Iso(from.AddHours(1))}&limit=0", "limit"),
                 })
        {
            using var bad = await http.SendAsync(Admin(scenario.Relay, $"admin/renormalize?{query}"));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(parameter, out _), $"{query}: no error for {parameter}");
        }

        // The fix, deployed: two instances with the new setting, both asked to re-normalize the same range at once.
        var fixedSettings = new Dictionary<string, string>(scenario.Settings) { ["Providers__Precept__PhoneFormat"] = "E164" };
        var startUp = Stopwatch.StartNew();
        var instances = await Task.WhenAll(RelayProcess.StartAsync(fixedSettings), RelayProcess.StartAsync(fixedSettings));
        startUp.Stop();
        await using var second = instances[0];
        await using var third = instances[1];
        var to = DateTimeOffset.UtcNow.AddMinutes(1);
        var clock = Stopwatch.StartNew();
        var reports = await Task.WhenAll(instances.Select(i => RenormalizeAsync(i, from, to)));
        var runTime = clock.Elapsed;
        await Eventually.TrueAsync(() => changing.All(r => scenario.Bus.Completions[r.RequestId].Any(c => c.Revision == 2)),
            TimeSpan.FromSeconds(20), "the corrections on the bus");
        var busTime = clock.Elapsed;

        Assert.Equal(3, reports.Sum(r => r.GetProperty("changed").GetInt32()));
        Assert.All(reports, r => Assert.Equal(6, r.GetProperty("examined").GetInt32()));
        Assert.All(reports, r => Assert.Equal(0, r.GetProperty("failed").GetInt32()));
        foreach (var request in changing)
        {
            var events = scenario.Bus.Completions[request.RequestId].DistinctBy(c => c.EventId).ToList();
            Assert.Equal(2, events.Count);
            var correction = Assert.Single(events, c => c.Revision == 2);
            Assert.Equal(first[request.RequestId].EventId, correction.Supersedes);
            Assert.Equal(EnrichmentCompleted.EventIdFor(request.RequestId, 2), correction.EventId);
            Assert.Equal(first[request.RequestId].Phones[0].Replace(" ", "").Replace("-", ""), Assert.Single(correction.Phones));
            Assert.Equal(first[request.RequestId].Emails, correction.Emails);
            Assert.Equal(first[request.RequestId].CreditsCharged, correction.CreditsCharged);
        }
        Assert.All(unchanged, r => Assert.Single(scenario.Bus.Completions[r.RequestId].DistinctBy(c => c.EventId)));

        // Again: nothing changes, nothing is published, and no provider was called by either run.
        var again = await RenormalizeAsync(second, from, to);
        Assert.Equal((6, 0, 6), (again.GetProperty("examined").GetInt32(), again.GetProperty("changed").GetInt32(), again.GetProperty("unchanged").GetInt32()));
        var after = scenario.Sandbox.Precept.Counters;
        Assert.Equal(vendorCalls, (after.SubmitCalls, after.JobStatusCalls, after.CreditsCharged));
        Assert.All(changing, r => Assert.Equal(2, scenario.Bus.Completions[r.RequestId].DistinctBy(c => c.EventId).Count()));

        output.WriteLine($"[figure] renormalize: {requests.Count} requests examined by 2 instances at once, " +
                         $"{reports.Sum(r => r.GetProperty("changed").GetInt32())} corrected (one each), {unchanged.Count} unchanged and silent; " +
                         $"runs answered in {runTime.TotalMilliseconds:0} ms, corrections on the bus after {busTime.TotalMilliseconds:0} ms; " +
                         $"0 provider calls; test {started.Elapsed.TotalSeconds:0.0} s, of which starting the 2 fixed instances {startUp.Elapsed.TotalSeconds:0.0} s");
    }

    static string Iso(DateTimeOffset instant) => Uri.EscapeDataString(instant.ToString("O"));

    static HttpRequestMessage Admin(RelayProcess relay, string path) =>
        new(HttpMethod.Post, new Uri(relay.BaseAddress, path)) { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } };

    static async Task<JsonElement> RenormalizeAsync(RelayProcess relay, DateTimeOffset from, DateTimeOffset to)
    {
        using var response = await relay.Http.SendAsync(Admin(relay, $"admin/renormalize?from={Iso(from)}&to={Iso(to)}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.Clone();
    }
}
