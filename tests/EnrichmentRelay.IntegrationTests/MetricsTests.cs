using System.Text.Json;
using System.Text.RegularExpressions;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using EnrichmentRelay.Sandbox.Woodpecker;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>After a small sandbox run over the three providers, /metrics shows every step of it with the right counts.</summary>
public sealed class MetricsTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task MetricsShowRequestsProviderCallsCallbacksAndTheOutboxOfASandboxRun()
    {
        var rescued = PreceptRequest("Rescued");
        var precept = Enumerable.Range(0, 3).Select(i => PreceptRequest($"Metric{i}")).ToList();
        var woodpecker = Enumerable.Range(0, 2).Select(_ => WoodpeckerRequest($"m-{Guid.NewGuid():N}")).ToList();
        var lance = Enumerable.Range(0, 2).Select(_ => LanceRequest(Guid.NewGuid().ToString())).ToList();
        var invalid = new EnrichmentRequested { RequestId = Guid.NewGuid(), Lead = new Lead { CompanyName = "Acme" }, Fields = [EnrichmentField.Email] };
        EnrichmentRequested[] all = [rescued, .. precept, .. woodpecker, .. lance, invalid];

        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox =>
            {
                sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100);
                sandbox.Precept.Settings.DuplicateDeliveries = 1;
                sandbox.Precept.Settings.DropWebhooks = true; // until the first request was rescued
                sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
                sandbox.Woodpecker.SetLeadOutcome(WoodpeckerLeadUid(woodpecker[1]), LeadConversion.NotConverted);
                foreach (var request in lance)
                    sandbox.Lance.AddPerson(request.Lead!.LancePersonId!, "Ann", "Metric");
            },
            new Dictionary<string, string>
            {
                // A lost callback is noticed after 1 s and swept every half second.
                ["Providers__Precept__CallbackGrace"] = "00:00:01",
                ["Providers__Precept__SweepInterval"] = "00:00:00.500",
            });
        try
        {
            // 1. A callback that never comes: the sweep reads the job and completes the request.
            await scenario.Bus.PublishAsync(rescued);
            await scenario.Bus.WaitForCompletionsAsync([rescued.RequestId], Deadline);
            scenario.Sandbox.Precept.Settings.DropWebhooks = false;

            // 2. Precept refuses the next submit with a 503 (nothing done): an error; the leads go in the next batch.
            scenario.Sandbox.Precept.FailNextSubmits(1, 503);
            foreach (var request in all.Skip(1))
                await scenario.Bus.PublishAsync(request);
            await scenario.Bus.WaitForCompletionsAsync(all.Select(r => r.RequestId), Deadline);

            // The duplicate callback delivery is applied after the first; the gauges are read every 2 s.
            var scrape = await Eventually.ReturnsAsync(() => PrometheusScrape.FetchAsync(scenario.Relay.Http),
                s => s.Sum("relay_callbacks_duplicated_total") >= 1 && s.Sum("relay_outbox_pending") == 0 && s.Sum("relay_requests_open") == 0,
                TimeSpan.FromSeconds(30), "the duplicate callback and the gauges to settle");
            output.WriteLine(scrape.ToString());

            // Requests: accepted by provider; completed by provider and outcome exactly as the subscriber heard them.
            Assert.Equal(4, scrape.Sum("relay_requests_accepted_total", ("provider", "precept")));
            Assert.Equal(2, scrape.Sum("relay_requests_accepted_total", ("provider", "woodpecker")));
            Assert.Equal(2, scrape.Sum("relay_requests_accepted_total", ("provider", "lance")));
            var heard = all.Select(r => Assert.Single(scenario.Bus.Completions[r.RequestId]))
                .GroupBy(c => (Provider: c.Provider?.ToString().ToLowerInvariant() ?? "none", Outcome: JsonNamingPolicy.CamelCase.ConvertName(c.Outcome.ToString())))
                .ToList();
            Assert.Equal(all.Length, scrape.Sum("relay_requests_completed_total"));
            foreach (var group in heard)
                Assert.Equal(group.Count(), scrape.Sum("relay_requests_completed_total", ("provider", group.Key.Provider), ("outcome", group.Key.Outcome)));
            Assert.Equal(1, scrape.Sum("relay_requests_completed_total", ("provider", "none"), ("outcome", "rejected")));

            // Provider calls by route template, with the refused submit as an error.
            Assert.True(scrape.Sum("relay_provider_call_duration_seconds_count", ("provider", "precept"), ("endpoint", "POST v1/leads/enrich")) >= 2);
            Assert.True(scrape.Sum("relay_provider_call_duration_seconds_count", ("provider", "precept"), ("endpoint", "GET v1/jobs/{id}")) >= 1);
            Assert.True(scrape.Sum("relay_provider_call_duration_seconds_count", ("provider", "woodpecker"), ("endpoint", "POST v2/lead_finder/leads/enrichments")) >= 1);
            Assert.True(scrape.Sum("relay_provider_call_duration_seconds_count", ("provider", "lance"), ("endpoint", "POST api/v1/operations/enrichment/bulk")) >= 1);
            Assert.True(scrape.Sum("relay_provider_call_duration_seconds_sum") > 0);
            Assert.Equal(1, scrape.Sum("relay_provider_call_errors_total", ("provider", "precept"), ("endpoint", "POST v1/leads/enrich"), ("error", "503")));
            var endpoints = scrape.Samples.Where(s => s.Labels.ContainsKey("endpoint") && s.Name.StartsWith("relay_", StringComparison.Ordinal))
                .Select(s => s.Labels["endpoint"]).Distinct().ToList();
            Assert.All(endpoints, e => Assert.DoesNotMatch(new Regex("[0-9a-f]{8}-[0-9a-f]{4}|[0-9a-f]{16}|\\?"), e)); // templates, never ids

            // Batches: every accepted lead went out in one (and the leads of the refused one went twice).
            Assert.InRange(scrape.Sum("relay_batch_size_sum", ("provider", "precept")), 5, 7);
            Assert.Equal(2, scrape.Sum("relay_batch_size_sum", ("provider", "woodpecker")));
            Assert.Equal(2, scrape.Sum("relay_batch_size_sum", ("provider", "lance")));

            // Polls and what they cost; the sweep's job read counts as a Precept poll request.
            foreach (var provider in new[] { "precept", "woodpecker", "lance" })
            {
                Assert.True(scrape.Sum("relay_polls_total", ("provider", provider), ("result", "ok")) >= 1, provider);
                Assert.True(scrape.Sum("relay_poll_requests_total", ("provider", provider)) >= 1, provider);
            }

            // Callbacks: stored, duplicated (the sandbox delivers each twice), rescued by the sweep.
            Assert.True(scrape.Sum("relay_callbacks_received_total", ("provider", "precept"), ("result", "stored")) >= 2);
            Assert.True(scrape.Sum("relay_callbacks_duplicated_total", ("provider", "precept")) >= 1);
            Assert.True(scrape.Sum("relay_callbacks_rescued_total", ("provider", "precept")) >= 1);

            // Outbox, credits, dead letters, and nothing left open.
            Assert.Equal(0, scrape.Sum("relay_outbox_lag_seconds"));
            Assert.True(scrape.Sum("relay_outbox_published_total", ("message_type", "EnrichmentCompleted")) >= all.Length);
            var credits = scenario.Bus.Completions.Values.SelectMany(c => c).Where(c => c.Provider == ProviderName.Woodpecker).Sum(c => c.CreditsCharged ?? 0);
            Assert.Equal(1.5m, credits);
            Assert.Equal((double)credits, scrape.Sum("relay_credits_charged_total", ("provider", "woodpecker")));
            Assert.True(scrape.Has("relay_dead_letters"));
            Assert.Equal(0, scrape.Sum("relay_dead_letters"));
            Assert.Equal(6, scrape.Family("relay_requests_open").Count()); // every provider x {accepted, submitted}, 0 included
            Assert.True(scrape.Has("relay_requests_oldest_open_age_seconds"));

            // Fields asked and found per provider and field, exactly as the subscriber heard them (the hit rate's two halves).
            foreach (var provider in new[] { ProviderName.Precept, ProviderName.Woodpecker, ProviderName.Lance })
            {
                var tag = provider.ToString().ToLowerInvariant();
                var sent = all.Where(r => Assert.Single(scenario.Bus.Completions[r.RequestId]).Provider == provider).ToList();
                var answers = sent.Select(r => Assert.Single(scenario.Bus.Completions[r.RequestId])).ToList();
                Assert.Equal(sent.Count(r => r.Fields!.Contains(EnrichmentField.Email)), scrape.Sum("relay_fields_requested_total", ("provider", tag), ("field", "email")));
                Assert.Equal(sent.Count(r => r.Fields!.Contains(EnrichmentField.Phone)), scrape.Sum("relay_fields_requested_total", ("provider", tag), ("field", "phone")));
                Assert.Equal(answers.Count(c => c.Emails.Count > 0), scrape.Sum("relay_contacts_found_total", ("provider", tag), ("field", "email")));
                Assert.Equal(answers.Count(c => c.Phones.Count > 0), scrape.Sum("relay_contacts_found_total", ("provider", tag), ("field", "phone")));
            }
            Assert.Equal(1, scrape.Sum("relay_contacts_found_total", ("provider", "woodpecker"), ("field", "email")));

            // The cost report reads the same run from the ledger.
            using var costs = new HttpRequestMessage(HttpMethod.Get, "admin/costs?window=1h") { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } };
            using var costsAnswer = await scenario.Relay.Http.SendAsync(costs);
            Assert.Equal(System.Net.HttpStatusCode.OK, costsAnswer.StatusCode);
            using var report = JsonDocument.Parse(await costsAnswer.Content.ReadAsStringAsync());
            var woodpeckerCosts = report.RootElement.GetProperty("providers").EnumerateArray().Single(p => p.GetProperty("provider").GetString() == "woodpecker");
            Assert.Equal(2, woodpeckerCosts.GetProperty("requests").GetInt32());
            Assert.Equal(1, woodpeckerCosts.GetProperty("contactsFound").GetInt32());
            Assert.Equal(1.5m, woodpeckerCosts.GetProperty("credits").GetDecimal());
            Assert.Equal(1.5m, woodpeckerCosts.GetProperty("creditsPerFound").GetDecimal());
            var woodpeckerEmail = woodpeckerCosts.GetProperty("fields").EnumerateArray().Single(f => f.GetProperty("field").GetString() == "email");
            Assert.Equal(0.5, woodpeckerEmail.GetProperty("hitRate").GetDouble());
            // And the dashboard shows it, table and chart.
            var overview = await scenario.Relay.Http.GetStringAsync("/?costs=1h");
            Assert.Contains("id=\"cost-report\"", overview);
            Assert.Contains("data-hit-rate=\"woodpecker-email\"", overview);

            Assert.DoesNotContain("Reading the ledger gauges failed", scenario.Relay.LogText);

            // MassTransit's own instruments are exported beside ours.
            Assert.Contains(scrape.Samples, s => s.Labels.TryGetValue("otel_scope_name", out var scope) && scope == "MassTransit");
            output.WriteLine($"[figure] /metrics after a {all.Length}-request sandbox run: {scrape.Samples.Count} samples, " +
                             $"{scrape.Samples.Count(s => s.Name.StartsWith("relay_", StringComparison.Ordinal))} of them relay_*");

            // The operator files (deploy/grafana, deploy/prometheus/alerts.yaml) read only what the relay exposes.
            output.WriteLine($"[figure] Grafana and alert rules checked against /metrics: {OperatorFileChecks.AssertReadOnlyExposedMetrics(scrape)}");
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(150));
            throw;
        }
    }

    static EnrichmentRequested PreceptRequest(string lastName) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { FirstName = "Jane", LastName = $"{lastName}{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
        Fields = [EnrichmentField.Email, EnrichmentField.Phone],
    };

    static EnrichmentRequested WoodpeckerRequest(string uid) => new()
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

    static string WoodpeckerLeadUid(EnrichmentRequested request) => request.Lead!.WoodpeckerLead!.Value.GetProperty("uid").GetString()!;

    static EnrichmentRequested LanceRequest(string personId) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = personId },
        Fields = [EnrichmentField.Email, EnrichmentField.Phone],
    };
}
