using System.Text;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Precept;
using Microsoft.Playwright;
using Npgsql;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// The dashboard in a real browser (Debian's headless Chromium, driven by Playwright): after a sandbox run
/// its numbers match the ledger, a request's history can be looked up behind the admin key, a dead letter
/// can be replayed, and a screenshot of the page is kept as an artifact.
/// </summary>
public sealed class DashboardTests(ITestOutputHelper output)
{
    const string Chromium = "/usr/bin/chromium";
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task TheDashboardShowsTheLedgersNumbersAndARequestsHistory()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: infra/test.sh installs Debian's chromium package.");
        var requests = Enumerable.Range(0, 30).Select(Leads.Mixed).ToList();
        var notFound = Leads.Mixed(30 * 3);
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
            sandbox.Precept.SetOutcome(notFound.Lead!.LastName!, LeadOutcome.NotFound);
        });
        try
        {
            await Task.WhenAll(requests.Append(notFound).Select(scenario.Bus.PublishAsync));
            await scenario.Bus.PublishRawBytesAsync([Encoding.UTF8.GetBytes("{\"requestId\": ")]); // unreadable: a dead letter
            await scenario.Bus.WaitForCompletionsAsync(requests.Append(notFound).Select(r => r.RequestId), Deadline);
            await Eventually.ReturnsAsync(() => LedgerCountAsync(scenario, "SELECT count(*) FROM dead_letters"), n => n == 1, Deadline, "the dead letter");

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = Chromium,
                Headless = true,
                // This machine has no network beyond loopback: keep Chromium from reaching for it.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"],
            });
            var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 }, BaseURL = scenario.Relay.BaseAddress.ToString() });

            // 1. The overview's numbers are the ledger's.
            await page.GotoAsync("/");
            var shown = new Dictionary<(string Provider, string State), long>();
            foreach (var provider in new[] { "precept", "woodpecker", "lance" })
                foreach (var state in new[] { "accepted", "submitted", "completed" })
                    shown[(provider, state)] = long.Parse(await page.Locator($"#requests tr[data-provider='{provider}'] td[data-state='{state}']").InnerTextAsync());
            var ledger = await LedgerStatesAsync(scenario);
            Assert.Equal(ledger, shown.Where(s => s.Value > 0).ToDictionary());
            Assert.Equal(11, shown[("precept", "completed")]);
            Assert.Equal(await LedgerCountAsync(scenario, "SELECT count(*) FROM enrichment_requests WHERE \"CompletedAt\" IS NOT NULL"),
                long.Parse(await page.Locator("#completed-last-hour").InnerTextAsync()));
            Assert.Equal(1, long.Parse(await page.Locator("#dead-letters-pending").InnerTextAsync()));
            // Woodpecker says what each request cost, Precept what each job cost.
            foreach (var provider in new[] { "Woodpecker", "Precept" })
            {
                var credits = await page.Locator($"#credits tr[data-provider='{provider.ToLowerInvariant()}'] td[data-credits]").InnerTextAsync();
                var expected = await LedgerCreditsAsync(scenario, provider);
                Assert.True(expected > 0, $"{provider} charged something in this run");
                Assert.Equal(expected, decimal.Parse(credits, System.Globalization.CultureInfo.InvariantCulture));
            }
            var screenshot = Path.Combine(ArtifactsFolder(), "dashboard.png");
            await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
            output.WriteLine($"[figure] dashboard: {shown.Values.Sum()} requests shown by provider and state, as in the ledger; screenshot {screenshot}");

            // 2. A request's history: the search box, then the admin key, then the whole story.
            var precept = requests[0];
            await page.FillAsync("input[name=requestId]", precept.RequestId.ToString());
            await page.ClickAsync("text=Show history");
            await page.FillAsync("input[name=key]", RelayScenario.AdminKey);
            await page.ClickAsync("button:has-text('Unlock')");
            await page.WaitForURLAsync($"**/requests/{precept.RequestId}");
            Assert.Equal("completed", await page.Locator("#request-state").InnerTextAsync());
            Assert.Equal("found", await page.Locator("#request-outcome").InnerTextAsync());
            Assert.Equal(EnrichmentCompleted.EventIdFor(precept.RequestId).ToString(), await page.Locator("#event-id").InnerTextAsync());
            Assert.True(await page.Locator("pre.callback").CountAsync() >= 1, "Precept's callback is shown as received");
            Assert.Contains(precept.RequestId.ToString(), await page.Locator("pre.callback").First.InnerTextAsync());
            // Every answer of Precept's API read for its job is kept and shown too: the submit's, and the read that verified the callback.
            Assert.True(await page.Locator("pre.answer").CountAsync() >= 2, "the submit's answer and the verifying read are shown");
            await page.ScreenshotAsync(new() { Path = Path.Combine(ArtifactsFolder(), "dashboard-request.png"), FullPage = true });

            // 3. Replaying the dead letter from the page (unlocked now): it goes back to its queue.
            await page.GotoAsync("/");
            await page.ClickAsync("#dead-letters button:has-text('Replay')");
            Assert.Contains("Replayed dead letter", await page.Locator(".notice").InnerTextAsync());
            Assert.Equal(1, await LedgerCountAsync(scenario, "SELECT count(*) FROM dead_letters WHERE \"ReplayCount\" = 1"));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(100));
            throw;
        }
    }

    /// <summary>Where screenshots go: $RELAY_TEST_ARTIFACTS, else test-artifacts/ in the checkout.</summary>
    static string ArtifactsFolder()
    {
        var folder = Environment.GetEnvironmentVariable("RELAY_TEST_ARTIFACTS") is { Length: > 0 } set
            ? set
            : Path.Combine(RelayProcess.RepositoryRoot, "test-artifacts");
        Directory.CreateDirectory(folder);
        return folder;
    }

    static async Task<Dictionary<(string Provider, string State), long>> LedgerStatesAsync(RelayScenario scenario)
    {
        await using var connection = new NpgsqlConnection(scenario.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT \"Provider\", \"State\", count(*) FROM enrichment_requests GROUP BY 1, 2", connection);
        await using var rows = await query.ExecuteReaderAsync();
        var counts = new Dictionary<(string, string), long>();
        while (await rows.ReadAsync())
            counts[(rows.GetString(0).ToLowerInvariant(), rows.GetString(1).ToLowerInvariant())] = rows.GetInt64(2);
        return counts;
    }

    static async Task<long> LedgerCountAsync(RelayScenario scenario, string sql)
    {
        await using var connection = new NpgsqlConnection(scenario.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand(sql, connection);
        return (long)(await query.ExecuteScalarAsync())!;
    }

    static async Task<decimal> LedgerCreditsAsync(RelayScenario scenario, string provider)
    {
        await using var connection = new NpgsqlConnection(scenario.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand(
            "SELECT (SELECT coalesce(sum(\"CreditsCharged\"), 0) FROM enrichment_requests WHERE \"Provider\" = @p) " +
            "+ (SELECT coalesce(sum(\"CreditsCharged\"), 0) FROM provider_jobs WHERE \"Provider\" = @p)", connection);
        query.Parameters.AddWithValue("p", provider);
        return (decimal)(await query.ExecuteScalarAsync())!;
    }
}
