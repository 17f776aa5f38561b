using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

public sealed class SecretsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ApiKeysAndWebhookTokensNeverReachTheLogsOrErrorBodies()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100),
            // Debug, to be strict: more than an operator would run.
            new Dictionary<string, string>
            {
                ["Logging__LogLevel__Default"] = "Debug",
                // A rule for one provider outranks every rule for all providers: it used to re-enable the path categories.
                ["Logging__Console__LogLevel__Default"] = "Debug",
                ["Logging__LogLevel__Microsoft.AspNetCore"] = "Debug",
                ["Logging__LogLevel__System.Net.Http.HttpClient"] = "Trace",
                ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Information",
                // Structured lines with every scope, as an operator would ship them: the scopes are scanned too.
                ["Logging__Console__FormatterName"] = "json",
                ["Logging__Console__FormatterOptions__IncludeScopes"] = "true",
            });
        EnrichmentRequested[] requests =
        [
            new() { RequestId = Guid.NewGuid(), Lead = new Lead { FirstName = "Jane", LastName = "Secret", CompanyName = "Acme" }, Fields = [EnrichmentField.Email] },
            new() { RequestId = Guid.NewGuid(), Lead = new Lead { WoodpeckerLead = JsonDocument.Parse("""{"uid":"s-1","first_name":"Erlich","last_name":"Secret","company_website":"bachmanity.com"}""").RootElement.Clone() }, Fields = [EnrichmentField.Email] },
            new() { RequestId = Guid.NewGuid(), Lead = new Lead { LancePersonId = Guid.NewGuid().ToString() }, Fields = [EnrichmentField.Email] },
        ];
        foreach (var request in requests)
            await scenario.Bus.PublishAsync(request);
        await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), TimeSpan.FromSeconds(90));

        // A wrong token answers without echoing it.
        using var wrong = await scenario.Relay.Http.PostAsJsonAsync("webhooks/precept/guessed-token-123", new { enrichment_id = "x" });
        Assert.DoesNotContain("guessed-token-123", await wrong.Content.ReadAsStringAsync());

        var tokens = scenario.Sandbox.Precept.Jobs.Select(j => new Uri(j.WebhookUrl!).Segments.Last()).ToList();
        Assert.NotEmpty(tokens);
        // A line logged while a real callback URL is being served (the job is complete: its spent token is refused and noted).
        using (var late = await scenario.Relay.Http.PostAsync($"webhooks/precept/{tokens[0]}",
                   new StringContent("{\"enrichment_id\": ", System.Text.Encoding.UTF8, "application/json")))
            Assert.Equal(System.Net.HttpStatusCode.Gone, late.StatusCode);
        await Eventually.TrueAsync(() => scenario.Relay.LogText.Contains("its token is spent"), TimeSpan.FromSeconds(10), "the spent-token line");
        // A wrong key is logged as such, never itself.
        using (var guessed = new HttpRequestMessage(HttpMethod.Get, "admin/dead-letters") { Headers = { { "X-Api-Key", "guessed-admin-key-0123456789abcdefghij" } } })
        using (var refused = await scenario.Relay.Http.SendAsync(guessed))
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        string[] secrets = [RelayScenario.PreceptKey, RelayScenario.WoodpeckerKey, RelayScenario.LanceKey, RelayScenario.AdminKey, RelayScenario.ClientKey,
            "guessed-admin-key-0123456789abcdefghij", .. tokens];
        var log = scenario.Relay.LogText;
        output.WriteLine($"[figure] secrets scan: {log.Length:N0} characters of relay log searched for {secrets.Length} secrets");
        Assert.All(secrets, secret => Assert.DoesNotContain(secret, log));

        // Every line about a request carries its RequestId as a scope; lines about a provider job carry the job.
        var lines = log.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.NotEmpty(lines);
        var ids = requests.Select(r => r.RequestId.ToString()).ToHashSet();
        static IEnumerable<JsonElement> Scopes(JsonElement line) => line.GetProperty("Scopes").EnumerateArray();
        static string? ScopeValue(JsonElement line, string name) => Scopes(line)
            .Select(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty(name, out var v) ? v.ToString() : null)
            .FirstOrDefault(v => v is not null);
        var accepted = lines.Where(l => l.GetProperty("Message").GetString()!.StartsWith("Accepted request")).ToList();
        var published = lines.Where(l => l.GetProperty("Message").GetString()!.StartsWith("Published EnrichmentCompleted")).ToList();
        var submitted = lines.Where(l => l.GetProperty("Message").GetString()!.StartsWith("Submitting job")).ToList();
        Assert.Equal(3, accepted.Count);
        Assert.Equal(3, published.Count);
        Assert.NotEmpty(submitted);
        Assert.All(accepted.Concat(published), l => Assert.Contains(ScopeValue(l, "RequestId")!, ids));
        Assert.All(submitted, l => Assert.StartsWith("relay-", ScopeValue(l, "JobName")));
        // Each line of a request's work is also tied to its trace.
        Assert.All(accepted, l => Assert.NotNull(ScopeValue(l, "TraceId")));
        // ASP.NET Core's own request scope (it holds the path, and so a webhook token) is not there.
        Assert.DoesNotContain(lines, l => ScopeValue(l, "RequestPath") is not null);
        output.WriteLine($"[figure] log scopes: {lines.Count} JSON lines, {accepted.Count + published.Count} request lines all scoped with their RequestId");
    }

    [Fact]
    public async Task WebhookRouteIsRateLimitedPerCaller()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            settings: new Dictionary<string, string> { ["Providers__Precept__WebhookPermitsPerSecond"] = "5" });

        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using var response = await scenario.Relay.Http.PostAsJsonAsync($"webhooks/precept/guess-{i}", new { enrichment_id = "x" });
            return (int)response.StatusCode;
        }));

        output.WriteLine($"[figure] webhook rate limit: {answers.Count(a => a == 429)} of 30 rapid calls refused at 5/s");
        Assert.Contains(429, answers);
        Assert.Contains(404, answers);
        Assert.All(answers, a => Assert.True(a is 404 or 429));
    }
}
