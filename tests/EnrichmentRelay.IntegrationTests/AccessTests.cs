using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Who may reach what: Precept's webhook on a listener of its own, keys on the rest, wrong keys limited.</summary>
[Collection(RelayCollection.Name)]
public sealed class AccessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WithAWebhookListenerEachPortServesOnlyItsDoorsAndPreceptCallsBackOnItsOwn()
    {
        var webhookPort = RelayProcess.FreePort();
        // On RabbitMQ, protected by the listener alone: no client key.
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50),
            new Dictionary<string, string>
            {
                [RelayProcess.ClientKeySetting] = "",
                ["Relay__WebhookUrls"] = $"http://127.0.0.1:{webhookPort}",
            });
        var main = scenario.Relay.Http;
        using var webhook = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{webhookPort}/") };

        // The main listener takes requests (no key set) and no callbacks.
        using var post = await main.PostAsync("enrichments", new StringContent(
            """{"lead":{"firstName":"Jane","lastName":"Port","companyName":"Acme"},"fields":["email"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
        using (var callbackOnMain = await main.PostAsync("webhooks/precept/some-token", new StringContent("{}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NotFound, callbackOnMain.StatusCode);
            Assert.Contains("own listener", await callbackOnMain.Content.ReadAsStringAsync());
        }

        // The webhook listener serves callbacks and health, nothing else.
        foreach (var path in new[] { $"enrichments/{Guid.NewGuid()}", "metrics", "openapi/v1.json", "admin/dead-letters", "" })
        {
            using var other = await webhook.GetAsync(path);
            Assert.True(other.StatusCode == HttpStatusCode.NotFound, $"{path} on the webhook listener: {other.StatusCode}");
            Assert.Contains("webhook and the health probes only", await other.Content.ReadAsStringAsync());
        }
        using (var ready = await webhook.GetAsync("health/ready"))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using (var unknown = await webhook.PostAsync("webhooks/precept/some-token", new StringContent("{}", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        // Precept was given the webhook listener's address, and its callback completed the request through it.
        var done = await Eventually.ReturnsAsync(() => main.GetFromJsonAsync<JsonElement>(post.Headers.Location!.ToString()),
            s => s.GetProperty("state").GetString() == "completed", TimeSpan.FromSeconds(60), "the request to complete through the webhook listener");
        Assert.Equal("found", done.GetProperty("outcome").GetString());
        var job = Assert.Single(scenario.Sandbox.Precept.Jobs);
        Assert.Equal(webhookPort, new Uri(job.WebhookUrl!).Port);
        output.WriteLine($"[figure] webhook listener: callbacks on :{webhookPort} only; 5 other routes refused there, the callback route refused on the main port");
    }

    [Fact]
    public async Task WrongKeysAreLimitedPerCallerAndTheRightKeyStillWorksFromElsewhere()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);
        using var guesser = ProxyTests.ClientFrom(System.Net.IPAddress.Parse("127.0.0.3"), scenario.Relay.BaseAddress);

        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "admin/dead-letters") { Headers = { { "X-Api-Key", $"guess-{i}-0123456789abcdefghijklmnopqrstuv" } } };
            using var response = await guesser.SendAsync(request);
            answers.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.NotNull(response.Headers.RetryAfter);
                Assert.Contains("Too many wrong keys", await response.Content.ReadAsStringAsync());
            }
        }
        // Ten wrong keys a minute are answered 401; then the caller waits, whatever it sends (the right key too).
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 10).Concat(Enumerable.Repeat(HttpStatusCode.TooManyRequests, 2)), answers);
        using (var locked = new HttpRequestMessage(HttpMethod.Get, "admin/dead-letters") { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } })
        using (var stillLocked = await guesser.SendAsync(locked))
            Assert.Equal(HttpStatusCode.TooManyRequests, stillLocked.StatusCode);

        // Another caller is not held up by the guesser, and its own calls with the right key are never counted.
        for (var i = 0; i < 15; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "admin/dead-letters") { Headers = { { "X-Api-Key", RelayScenario.AdminKey } } };
            using var response = await scenario.Relay.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        output.WriteLine($"[figure] key guessing: {answers.Count(a => a == HttpStatusCode.Unauthorized)} wrong keys answered 401, then 429; 15 right-key calls from another address all 200");
    }
}
