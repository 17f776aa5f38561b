using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

[Collection(RelayCollection.Name)]
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
                ["Logging__LogLevel__Microsoft.AspNetCore"] = "Debug",
                ["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Debug",
                ["Logging__LogLevel__System.Net.Http.HttpClient"] = "Trace",
                ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Information",
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
        string[] secrets = [RelayScenario.PreceptKey, RelayScenario.WoodpeckerKey, RelayScenario.LanceKey, RelayScenario.AdminKey, .. tokens];
        var log = scenario.Relay.LogText;
        output.WriteLine($"[figure] secrets scan: {log.Length:N0} characters of relay log searched for {secrets.Length} secrets");
        Assert.All(secrets, secret => Assert.DoesNotContain(secret, log));
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
