using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Precept = EnrichmentRelay.Sandbox.Precept;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Budgets across instances: a daily cap smaller than the work, set at run time through the admin route.</summary>
public sealed class BudgetTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task UnderLoadFromThreeInstancesTheCreditsReservedAndChargedNeverExceedTheDailyCap()
    {
        // 150 Precept requests for an email: 2 credits each at worst (1 per lead + 1 per email), 300 in all; the cap,
        // set by an operator on one instance, is 61. Two requests ask for a phone too (12 at worst, over the ceiling of 3).
        // Every other lead has no contact (Precept charges its 1 credit per lead only): settlements give room back.
        const decimal cap = 61m;
        var started = Stopwatch.StartNew();
        var requests = Enumerable.Range(0, 150).Select(i => Leads.Mixed(i * 3)).ToList();
        var phones = requests.Take(2).Select(r => r with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] }).ToList();
        requests = [.. phones, .. requests.Skip(2)];
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
            sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(200);
            foreach (var request in requests.Where((_, i) => i % 2 == 1))
                sandbox.Precept.SetOutcome(request.Lead!.LastName!, Precept.LeadOutcome.NoContact);
        }, new Dictionary<string, string>
        {
            ["Budgets__Precept__DailyCap"] = "1000",
            ["Budgets__Woodpecker__DailyCap"] = "100",
            ["Budgets__WhenExhausted"] = "Complete",
            ["Budgets__SettleInterval"] = "00:00:00.200",
            // Small batches, so the three instances compete for the budget many times.
            ["Providers__Precept__BatchSize"] = "5",
            ["Providers__Precept__FlushWindow"] = "00:00:00.100",
        });
        // The other two start side by side: start-up is most of this test's time.
        var others = await Task.WhenAll(RelayProcess.StartAsync(scenario.Settings), RelayProcess.StartAsync(scenario.Settings));
        await using var second = others[0];
        await using var third = others[1];
        RelayProcess[] instances = [scenario.Relay, second, third];
        var http = scenario.Relay.Http;
        var startUp = started.Elapsed;

        // The route needs the admin key (the client key the test client sends is not it), a known provider and sane values.
        using (var anonymous = await http.GetAsync("admin/budgets"))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var anonymous = await http.PutAsJsonAsync("admin/budgets/precept", new { dailyCap = 1 }))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var bad = await http.SendAsync(Admin(HttpMethod.Put, "admin/budgets/precept", new { dailyCap = -1 })))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using (var unknown = await http.SendAsync(Admin(HttpMethod.Put, "admin/budgets/nobody", new { dailyCap = 1 })))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal((1000m, "settings"), CapAndSource(await BudgetAsync(third, "precept")));
        // Set on one instance, applied by all three: they read it from the ledger.
        using (var set = await http.SendAsync(Admin(HttpMethod.Put, "admin/budgets/precept", new { dailyCap = cap, perRequestCeiling = 3 })))
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal((cap, "admin"), CapAndSource(await BudgetAsync(third, "precept")));

        // Every instance's view of the shared budget, read in turn as fast as the route answers while the work runs.
        using var done = new CancellationTokenSource();
        var samples = new List<(decimal Reserved, decimal Charged)>();
        var sampling = Task.Run(async () =>
        {
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            var next = 0;
            while (await tick.WaitForNextTickAsync(done.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully))
            {
                var precept = await BudgetAsync(instances[next++ % instances.Length], "precept");
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
        var final = await Eventually.ReturnsAsync(() => BudgetAsync(second, "precept"), b => b.GetProperty("reserved").GetDecimal() == 0,
            TimeSpan.FromSeconds(30), "every reservation settled");
        await done.CancelAsync();
        await sampling;

        var completions = requests.Select(r => Assert.Single(scenario.Bus.Completions[r.RequestId].DistinctBy(c => c.EventId))).ToList();
        var sent = completions.Where(c => c.Detail != "budget").ToList();
        var refused = completions.Where(c => c.Detail == "budget").ToList();
        var charged = final.GetProperty("charged").GetDecimal();
        var vendor = scenario.Sandbox.Precept.Counters;
        var peak = samples.Max(s => s.Reserved + s.Charged);
        output.WriteLine($"[figure] budget across 3 instances on PostgreSQL: cap {cap} credits, work {requests.Count * 2 + phones.Count * 10} at worst; " +
                         $"peak reserved + charged {peak:0.##} in {samples.Count} samples; settled: reserved {final.GetProperty("reserved").GetDecimal():0.##}, " +
                         $"charged {charged:0.##} (Precept's own count {vendor.CreditsCharged:0.##}); {sent.Count} requests sent, {refused.Count} completed " +
                         $"insufficientCredits \"budget\" without a call, in {elapsed.TotalSeconds:0.0} s (3 instances started in {startUp.TotalSeconds:0.0} s)");

        Assert.True(samples.Count >= 10, $"only {samples.Count} samples of the budget");
        Assert.All(samples, s => Assert.True(s.Reserved + s.Charged <= cap, $"reserved {s.Reserved} + charged {s.Charged} > cap {cap}"));
        // What the vendor itself charged, and what the relay recorded, stay within the cap.
        Assert.InRange(vendor.CreditsCharged, 1, cap);
        Assert.Equal(vendor.CreditsCharged, charged);
        // The cap was used (30 requests of 2 fit in 61, and more as settlements below the worst case gave room back) and
        // nothing was sent twice; the rest ended without a call, the two over the ceiling among them.
        Assert.InRange(sent.Count, 31, requests.Count - 2);
        Assert.Equal(sent.Count, vendor.LeadSubmissions.Count);
        Assert.All(vendor.LeadSubmissions.Values, n => Assert.Equal(1, n));
        Assert.All(refused, c => Assert.Equal(Outcome.InsufficientCredits, c.Outcome));
        Assert.Equal(requests.Count, sent.Count + refused.Count);
        Assert.All(phones, p => Assert.Contains(refused, c => c.RequestId == p.RequestId));

        // The gauges: the caps are reported (Lance has none), and what was charged.
        var scrape = await Eventually.ReturnsAsync(() => PrometheusScrape.FetchAsync(third.Http),
            m => m.Sum("relay_budget_charged", ("provider", "precept")) == (double)charged, TimeSpan.FromSeconds(20), "the budget gauges");
        Assert.Equal((double)cap, scrape.Sum("relay_budget_cap", ("provider", "precept")));
        Assert.Equal(100, scrape.Sum("relay_budget_cap", ("provider", "woodpecker")));
        Assert.Empty(scrape.Family("relay_budget_cap", ("provider", "lance")));
        Assert.Equal(0, scrape.Sum("relay_budget_reserved"));

        // Back to the settings, for every instance.
        using (var clear = await http.SendAsync(Admin(HttpMethod.Delete, "admin/budgets/precept")))
            Assert.Equal(HttpStatusCode.OK, clear.StatusCode);
        Assert.Equal((1000m, "settings"), CapAndSource(await BudgetAsync(second, "precept")));
    }

    static (decimal Cap, string? Source) CapAndSource(JsonElement budget) =>
        (budget.GetProperty("dailyCap").GetDecimal(), budget.GetProperty("source").GetString());

    static HttpRequestMessage Admin(HttpMethod method, string path, object? body = null) =>
        new(method, path) { Headers = { { "X-Api-Key", RelayScenario.AdminKey } }, Content = body is null ? null : JsonContent.Create(body) };

    static async Task<JsonElement> BudgetAsync(RelayProcess relay, string provider)
    {
        using var response = await relay.Http.SendAsync(Admin(HttpMethod.Get, "admin/budgets"));
        response.EnsureSuccessStatusCode();
        using var all = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return all.RootElement.EnumerateArray().Single(b => b.GetProperty("provider").GetString() == provider).Clone();
    }
}
