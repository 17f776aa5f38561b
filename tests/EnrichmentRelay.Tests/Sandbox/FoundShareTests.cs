using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>The sandbox's population switch: each provider finds its own share of the contacts, independently of the others.</summary>
public sealed class FoundShareTests
{
    [Fact]
    public void EachProviderFindsItsShareIndependentlyAndTheSameOnEveryRun()
    {
        var lance = new FoundShare(0.5, Seed: 1);
        var precept = new FoundShare(0.6, Seed: 2);
        var leads = Enumerable.Range(0, 20_000).Select(i => $"lead-{i}").ToList();
        var byLance = leads.Count(l => lance.Finds("lance", l, "email"));
        var byPrecept = leads.Count(l => precept.Finds("precept", l, "email"));
        var byBoth = leads.Count(l => lance.Finds("lance", l, "email") && precept.Finds("precept", l, "email"));

        Assert.InRange(byLance / 20_000.0, 0.49, 0.51);
        Assert.InRange(byPrecept / 20_000.0, 0.59, 0.61);
        Assert.InRange(byBoth / 20_000.0, 0.29, 0.31); // independent: 0.5 × 0.6
        // Fields are independent too, and the key is read case-insensitively.
        Assert.InRange(leads.Count(l => lance.Finds("lance", l, "email") && lance.Finds("lance", l, "phone")) / 20_000.0, 0.24, 0.26);
        Assert.Equal(lance.Finds("lance", "Lead-7", "email"), new FoundShare(0.5, 1).Finds("lance", "lead-7", "email"));
        Assert.Equal(0, leads.Count(l => new FoundShare(0).Finds("lance", l, "email")));
        Assert.Equal(leads.Count, leads.Count(l => new FoundShare(1).Finds("lance", l, "email")));
    }

    [Theory]
    [InlineData("precept")]
    [InlineData("woodpecker")]
    [InlineData("lance")]
    public async Task TheControlApiSetsAndClearsThePopulation(string provider)
    {
        await using var sandbox = await SandboxServer.StartAsync(new SandboxOptions { PreceptApiKey = "p", WoodpeckerApiKey = "w", LanceApiKey = "l" });
        using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
        FoundShare? Current() => provider switch
        {
            "precept" => sandbox.Precept.Settings.Population,
            "woodpecker" => sandbox.Woodpecker.Settings.Population,
            _ => sandbox.Lance.Settings.Population,
        };

        using (var set = await control.PostAsJsonAsync($"sandbox/{provider}/settings", new { population = new { share = 0.4, seed = 9 } }))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
            Assert.Equal(0.4, (double)JsonNode.Parse(await set.Content.ReadAsStringAsync())!["population"]!["share"]!);
        }
        Assert.Equal(new FoundShare(0.4, 9), Current());

        using (var bad = await control.PostAsJsonAsync($"sandbox/{provider}/settings", new { population = new { share = 1.5 } }))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(new FoundShare(0.4, 9), Current());

        using (var off = await control.PostAsJsonAsync($"sandbox/{provider}/settings", new { population = new { } }))
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        Assert.Null(Current());
    }
}
