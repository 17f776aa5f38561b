using System.Net;
using System.Text.Json;
using EnrichmentRelay.IntegrationTests.Infrastructure;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>GET /admin/costs: the admin key, the windows it takes, and the shape of its answer (its figures: MetricsTests).</summary>
public sealed class CostReportRouteTests
{
    [Fact]
    public async Task TheCostReportNeedsTheAdminKeyAndANamedWindow()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);
        var http = scenario.Relay.Http;

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
            Assert.Equal(JsonValueKind.Array, report.RootElement.GetProperty("providers").ValueKind);
        }

        // The dashboard's overview takes the same windows (an unknown one shows the default) and says when nothing ended.
        var overview = await http.GetStringAsync("/?costs=30d");
        Assert.Contains("Cost report, last 30d", overview);
        Assert.Contains("No request ended in this window.", overview);
        Assert.Contains("Cost report, last 1d", await http.GetStringAsync("/?costs=bogus"));

        // The route is in the OpenAPI document with its summary.
        var openApi = await http.GetStringAsync("openapi/v1.json");
        Assert.Contains("/admin/costs", openApi);
        Assert.Contains("Reports requests, contacts found, hit rate and credits per provider and field", openApi);
    }

    static HttpRequestMessage Get(string path) => new(HttpMethod.Get, path) { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } };
}
