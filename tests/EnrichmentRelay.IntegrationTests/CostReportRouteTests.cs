using System.Net;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Woodpecker;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>GET /admin/costs: the admin key, the windows it takes, and its figures against what subscribers heard, on both engines.</summary>
public sealed class CostReportRouteTests
{
    [Theory]
    [InlineData(Engine.Sqlite)]
    [InlineData(Engine.Postgres)]
    public async Task TheCostReportNeedsTheAdminKeyAndANamedWindowAndAgreesWithTheCompletions(Engine engine)
    {
        var found = WoodpeckerRequest();
        var missed = WoodpeckerRequest();
        var lance = new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(), Lead = new Lead { LancePersonId = Guid.NewGuid().ToString() }, Fields = [EnrichmentField.Email, EnrichmentField.Phone],
        };
        await using var scenario = await RelayScenario.StartAsync(engine, sandbox =>
        {
            sandbox.Woodpecker.SetLeadOutcome(Uid(missed), LeadConversion.NotConverted);
            sandbox.Lance.AddPerson(lance.Lead!.LancePersonId!, "Ann", "Cost");
        });
        var http = scenario.Relay.Http;
        // Nothing ended yet: the overview says so.
        Assert.Contains("No request ended in this window.", await http.GetStringAsync("/?costs=30d"));

        EnrichmentRequested[] all = [found, missed, lance];
        foreach (var request in all)
            await scenario.Bus.PublishAsync(request);
        await scenario.Bus.WaitForCompletionsAsync(all.Select(r => r.RequestId), TimeSpan.FromSeconds(60));
        var heard = all.Select(r => Assert.Single(scenario.Bus.Completions[r.RequestId])).ToList();

        // The client key the test client sends is not the admin key.
        using (var anonymous = await http.GetAsync("admin/costs?window=1d"))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using (var bad = await http.SendAsync(Get("admin/costs?window=2w")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
            Assert.Contains("1h, 1d, 30d", problem.RootElement.GetProperty("errors").GetProperty("window")[0].GetString());
        }

        foreach (var (window, span) in new[] { ("1h", TimeSpan.FromHours(1)), ("1d", TimeSpan.FromDays(1)), ("30d", TimeSpan.FromDays(30)) })
        {
            using var ok = await http.SendAsync(Get($"admin/costs?window={window}"));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using var report = JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
            Assert.Equal(window, report.RootElement.GetProperty("window").GetString());
            Assert.Equal(span, report.RootElement.GetProperty("to").GetDateTimeOffset() - report.RootElement.GetProperty("from").GetDateTimeOffset());
            // Every window holds the three requests that just ended, as their subscribers heard them.
            foreach (var provider in new[] { ProviderName.Woodpecker, ProviderName.Lance })
            {
                var of = heard.Where(c => c.Provider == provider).ToList();
                var row = report.RootElement.GetProperty("providers").EnumerateArray()
                    .Single(p => p.GetProperty("provider").GetString() == provider.ToString().ToLowerInvariant());
                Assert.Equal(of.Count, row.GetProperty("requests").GetInt32());
                Assert.Equal(of.Count(c => c.Emails.Count > 0) + of.Count(c => c.Phones.Count > 0), row.GetProperty("contactsFound").GetInt32());
                Assert.Equal(of.Sum(c => c.CreditsCharged ?? 0), row.GetProperty("credits").GetDecimal());
            }
        }
        Assert.Equal(2, heard.Count(c => c.Provider == ProviderName.Woodpecker));
        Assert.Single(heard, c => c.Provider == ProviderName.Woodpecker && c.Emails.Count > 0);

        // The dashboard's overview takes the same windows (an unknown one shows the last hour, its default).
        var overview = await http.GetStringAsync("/?costs=30d");
        Assert.Contains("Cost report, last 30d", overview);
        Assert.Contains("data-hit-rate=\"woodpecker-email\"", overview);
        Assert.Contains("Cost report, last 1h", await http.GetStringAsync("/?costs=bogus"));

        // The route is in the OpenAPI document with its summary.
        var openApi = await http.GetStringAsync("openapi/v1.json");
        Assert.Contains("/admin/costs", openApi);
        Assert.Contains("Reports requests, contacts found, hit rate and credits per provider and field", openApi);
    }

    static EnrichmentRequested WoodpeckerRequest()
    {
        var uid = $"c-{Guid.NewGuid():N}";
        return new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead
            {
                WoodpeckerLead = JsonDocument.Parse($$"""
                    {"uid":"{{uid}}","first_name":"Erlich","last_name":"{{uid}}","linkedin_url":"linkedin.com/in/{{uid}}",
                     "company_name":"Bachmanity","company_website":"bachmanity.com"}
                    """).RootElement.Clone(),
            },
            Fields = [EnrichmentField.Email],
        };
    }

    static string Uid(EnrichmentRequested request) => request.Lead!.WoodpeckerLead!.Value.GetProperty("uid").GetString()!;

    static HttpRequestMessage Get(string path) => new(HttpMethod.Get, path) { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } };
}
