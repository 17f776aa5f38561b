using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Budgets across instances: a daily cap smaller than the work, and the admin route that changes it at run time.</summary>
[Collection(RelayCollection.Name)]
public sealed class BudgetTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task UnderLoadFromThreeInstancesTheCreditsReservedAndChargedNeverExceedTheDailyCap()
    {
        // 150 Precept requests for an email: 2 credits each at worst (1 per lead + 1 per email), 300 in all; the cap is 61.
        const decimal cap = 61m;
        var requests = Enumerable.Range(0, 150).Select(i => Leads.Mixed(i * 3)).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
            sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(200);
        }, new Dictionary<string, string>
        {
            ["Budgets__Precept__DailyCap"] = cap.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Budgets__WhenExhausted"] = "Complete",
            ["Budgets__SettleInterval"] = "00:00:00.200",
            // Small batches, so the three instances compete for the budget many times.
            ["Providers__Precept__BatchSize"] = "5",
            ["Providers__Precept__FlushWindow"] = "00:00:00.100",
        });
        await scenario.StartAnotherInstanceAsync();
        await scenario.StartAnotherInstanceAsync();
        var instances = new[] { scenario.Relay }.Concat(scenario.OtherInstances).ToList();

        // Every instance's view of the shared budget, read as fast as the route answers while the work runs.
        using var done = new CancellationTokenSource();
        var samples = new List<(decimal Reserved, decimal Charged)>();
        var sampling = Task.Run(async () =>
        {
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            var next = 0;
            while (await tick.WaitForNextTickAsync(done.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully))
            {
                var precept = await PreceptBudgetAsync(instances[next++ % instances.Count]);
                lock (samples)
                    samples.Add((precept.GetProperty("reserved").GetDecimal(), precept.GetProperty("charged").GetDecimal()));
            }
        });

        var clock = Stopwatch.StartNew();
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
        }
        catch
        {
            foreach (var instance in instances)
                output.WriteLine(instance.LogTail(60));
            throw;
        }
        var elapsed = clock.Elapsed;
        // Once every request has ended the last job has too: its settlement follows within a round.
        var final = await Eventually.ReturnsAsync(() => PreceptBudgetAsync(scenario.Relay), b => b.GetProperty("reserved").GetDecimal() == 0,
            TimeSpan.FromSeconds(30), "every reservation settled");
        await done.CancelAsync();
        await sampling;

        var completions = requests.Select(r => Assert.Single(scenario.Bus.Completions[r.RequestId].DistinctBy(c => c.EventId))).ToList();
        var sent = completions.Where(c => c.Detail != "budget").ToList();
        var refused = completions.Where(c => c.Detail == "budget").ToList();
        var charged = final.GetProperty("charged").GetDecimal();
        var vendor = scenario.Sandbox.Precept.Counters;
        var peak = samples.Max(s => s.Reserved + s.Charged);
        output.WriteLine($"[figure] budget across 3 instances on PostgreSQL: cap {cap} credits, work {requests.Count * 2} at worst; " +
                         $"peak reserved + charged {peak} in {samples.Count} samples; settled: reserved {final.GetProperty("reserved").GetDecimal()}, " +
                         $"charged {charged} (Precept's own count {vendor.CreditsCharged}); {sent.Count} requests sent, {refused.Count} completed " +
                         $"insufficientCredits \"budget\", in {elapsed.TotalSeconds:0.0} s");

        Assert.NotEmpty(samples);
        Assert.All(samples, s => Assert.True(s.Reserved + s.Charged <= cap, $"reserved {s.Reserved} + charged {s.Charged} > cap {cap}"));
        // What the vendor itself charged, and what the relay recorded, stay within the cap.
        Assert.InRange(vendor.CreditsCharged, 1, cap);
        Assert.Equal(vendor.CreditsCharged, charged);
        // The cap was used (30 requests of 2 fit in 61) and nothing was sent twice; the rest ended without a call.
        Assert.InRange(sent.Count, 30, requests.Count - 1);
        Assert.Equal(sent.Count, vendor.LeadSubmissions.Count);
        Assert.All(vendor.LeadSubmissions.Values, n => Assert.Equal(1, n));
        Assert.All(refused, c => Assert.Equal(Outcome.InsufficientCredits, c.Outcome));
        Assert.Equal(requests.Count, sent.Count + refused.Count);
    }

    [Fact]
    public async Task TheBudgetRouteNeedsTheAdminKeyAndAChangeReachesEveryInstance()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, settings: new Dictionary<string, string>
        {
            ["Budgets__Woodpecker__DailyCap"] = "100",
            ["Budgets__Precept__PerRequestCeiling"] = "3",
        });
        var other = await scenario.StartAnotherInstanceAsync();
        var http = scenario.Relay.Http;

        using (var anonymous = await http.GetAsync("admin/budgets"))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var anonymous = await http.PutAsJsonAsync("admin/budgets/precept", new { dailyCap = 1 }))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        var woodpecker = await BudgetAsync(scenario.Relay, "woodpecker");
        Assert.Equal((100m, "settings"), (woodpecker.GetProperty("dailyCap").GetDecimal(), woodpecker.GetProperty("source").GetString()));

        using (var set = await http.SendAsync(Admin(HttpMethod.Put, "admin/budgets/precept", new { dailyCap = 10, perRequestCeiling = (decimal?)null })))
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        // The other instance reads the same ledger.
        var precept = await BudgetAsync(other, "precept");
        Assert.Equal((10m, JsonValueKind.Null, "admin"),
            (precept.GetProperty("dailyCap").GetDecimal(), precept.GetProperty("perRequestCeiling").ValueKind, precept.GetProperty("source").GetString()));

        using (var bad = await http.SendAsync(Admin(HttpMethod.Put, "admin/budgets/precept", new { dailyCap = -1 })))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using (var unknown = await http.SendAsync(Admin(HttpMethod.Put, "admin/budgets/nobody", new { dailyCap = 1 })))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        using (var clear = await http.SendAsync(Admin(HttpMethod.Delete, "admin/budgets/precept")))
            Assert.Equal(HttpStatusCode.OK, clear.StatusCode);
        precept = await BudgetAsync(other, "precept");
        Assert.Equal((JsonValueKind.Null, 3m, "settings"),
            (precept.GetProperty("dailyCap").ValueKind, precept.GetProperty("perRequestCeiling").GetDecimal(), precept.GetProperty("source").GetString()));

        // The gauges: Woodpecker's cap is reported, Precept (no cap) has none; nothing is reserved or charged yet.
        var scrape = await Eventually.ReturnsAsync(() => PrometheusScrape.FetchAsync(http),
            m => m.Sum("relay_budget_cap", ("provider", "woodpecker")) == 100, TimeSpan.FromSeconds(20), "the budget gauges");
        Assert.Empty(scrape.Family("relay_budget_cap", ("provider", "precept")));
        Assert.Equal(0, scrape.Sum("relay_budget_reserved") + scrape.Sum("relay_budget_charged"));
        Assert.True(scrape.Has("relay_budget_charged"));
    }

    static HttpRequestMessage Admin(HttpMethod method, string path, object? body = null) =>
        new(method, path) { Headers = { { "X-Api-Key", RelayScenario.AdminKey } }, Content = body is null ? null : JsonContent.Create(body) };

    static Task<JsonElement> PreceptBudgetAsync(RelayProcess relay) => BudgetAsync(relay, "precept");

    static async Task<JsonElement> BudgetAsync(RelayProcess relay, string provider)
    {
        using var response = await relay.Http.SendAsync(Admin(HttpMethod.Get, "admin/budgets"));
        response.EnsureSuccessStatusCode();
        using var all = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return all.RootElement.EnumerateArray().Single(b => b.GetProperty("provider").GetString() == provider).Clone();
    }
}
