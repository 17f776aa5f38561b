using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Precept;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>A sandbox on a free loopback port and an HttpClient holding its Precept key; fast timings by default.</summary>
sealed class PreceptHost : IAsyncDisposable
{
    public const string Key = "test-precept-key";

    PreceptHost(SandboxServer server)
    {
        Server = server;
        Http = new HttpClient { BaseAddress = server.BaseAddress };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    }

    public SandboxServer Server { get; }
    public PreceptSimulator Precept => Server.Precept;
    public HttpClient Http { get; }

    public static async Task<PreceptHost> StartAsync(TimeProvider? time = null)
    {
        var server = await SandboxServer.StartAsync(new SandboxOptions { PreceptApiKey = Key, TimeProvider = time ?? TimeProvider.System });
        server.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50);
        server.Precept.Settings.WebhookRetryBaseDelay = TimeSpan.FromMilliseconds(20);
        return new PreceptHost(server);
    }

    public static string Body(object[] leads, string? webhookUrl = null, string? name = null, bool? streamingResults = null) =>
        JsonSerializer.Serialize(new { name, webhookUrl, leads, includeContactDetails = true, translate = false, streamingResults });

    /// <summary>A lead identified by name and company domain, carrying <c>customData.rid</c>.</summary>
    public static object Person(string first, string last, string rid, string[]? enrichType = null, string domain = "acme.com") =>
        new { firstName = first, lastName = last, companyDomain = domain, enrichType, customData = new Dictionary<string, string> { ["rid"] = rid } };

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    public Task<HttpResponseMessage> PostEnrichAsync(string json) => Http.PostAsync("v1/leads/enrich", Json(json));

    /// <summary>Submits and insists on the 202; returns the answer.</summary>
    public async Task<JsonObject> SubmitAsync(string json)
    {
        using var response = await PostEnrichAsync(json);
        var body = await ReadAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"expected 202, got {(int)response.StatusCode}: {body}");
        return body;
    }

    public async Task<string> SubmitForIdAsync(string json) => (string)(await SubmitAsync(json))["enrichment_id"]!;

    public async Task<JsonObject> GetJobAsync(string id)
    {
        using var response = await Http.GetAsync($"v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ReadAsync(response);
    }

    public Task<JsonObject> WaitForJobStatusAsync(string id, string status) =>
        Eventually.ReturnsAsync(() => GetJobAsync(id), job => (string?)job["status"] == status, $"job {id} to be {status}");

    /// <summary>The job has ended and every webhook was delivered or given up on, so nothing more will arrive.</summary>
    public Task<PreceptJobSnapshot> WaitUntilSettledAsync(string id) =>
        Eventually.ReturnsAsync(() => Task.FromResult(Precept.Jobs.Single(j => j.EnrichmentId == id)),
            job => job.Status is "completed" or "failed" && job.WebhooksPending == 0, $"job {id} to end with no webhook pending");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

static class Eventually
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>Probes until <paramref name="done"/> holds, failing after a deadline with the last value seen.</summary>
    public static async Task<T> ReturnsAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string waitingFor)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var value = await probe();
            if (done(value))
                return value;
            if (Stopwatch.GetElapsedTime(started) > Deadline)
                throw new TimeoutException($"Gave up after {Deadline.TotalSeconds} s waiting for {waitingFor}; last seen: {value}");
            await Task.Delay(10);
        }
    }

    public static Task<T> ReturnsAsync<T>(Func<T> probe, Func<T, bool> done, string waitingFor) =>
        ReturnsAsync(() => Task.FromResult(probe()), done, waitingFor);
}
