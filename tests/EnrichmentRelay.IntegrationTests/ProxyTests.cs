using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// The relay behind a reverse proxy: it believes X-Forwarded-* from the trusted proxy (127.0.0.1) only, gives
/// Precept its public URL, and answers the container health probe. Untrusted callers connect from 127.0.0.2.
/// </summary>
[Collection(RelayCollection.Name)]
public sealed class ProxyTests(ProxyTests.ProxiedRelay relay, ITestOutputHelper output) : IClassFixture<ProxyTests.ProxiedRelay>, IDisposable
{
    static readonly IPAddress Untrusted = IPAddress.Parse("127.0.0.2");

    public sealed class ProxiedRelay : IAsyncLifetime
    {
        public RelayScenario Scenario { get; private set; } = null!;
        public string PublicBaseUrl { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var port = RelayProcess.FreePort();
            // Another name than the one the relay listens on (127.0.0.1), so a webhook URL made from it can only come from the setting.
            PublicBaseUrl = $"http://localhost:{port}/";
            Scenario = await RelayScenario.StartAsync(Engine.Sqlite,
                sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50),
                new Dictionary<string, string>
                {
                    ["Relay__TrustedProxies__0"] = "127.0.0.1",
                    ["Relay__PublicBaseUrl"] = PublicBaseUrl,
                    ["Providers__Precept__WebhookPermitsPerSecond"] = "1",
                }, port);
        }

        public async Task DisposeAsync() => await Scenario.DisposeAsync();
    }

    public void Dispose() => output.WriteLine(relay.Scenario.Relay.LogTail(40));

    HttpClient Trusted => relay.Scenario.Relay.Http;

    [Fact]
    public async Task BehindTheTrustedProxyTheWebhookRateLimitIsPerForwardedClient()
    {
        // One permit a second per client: drain one forwarded client's...
        await PostUntilRateLimitedAsync(Trusted, "203.0.113.10");

        // ...and another forwarded client behind the same proxy still has its own.
        using var other = await PostWebhookAsync(Trusted, "203.0.113.11");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode); // through the limiter to the endpoint: unknown token
    }

    [Fact]
    public async Task FromAnUntrustedAddressXForwardedForIsIgnored()
    {
        using var untrusted = ClientFrom(Untrusted, relay.Scenario.Relay.BaseAddress);
        // The limit refills one permit a second, so on a slow machine the refill can let the next request
        // through; a fresh forwarded address is always let through when the header is believed. Three rounds
        // tell the two apart.
        for (var round = 0; round < 3; round++)
        {
            await PostUntilRateLimitedAsync(untrusted, $"198.51.100.{2 * round + 1}");
            using var next = await PostWebhookAsync(untrusted, $"198.51.100.{2 * round + 2}");
            if (next.StatusCode == HttpStatusCode.TooManyRequests)
                return; // the caller's own address (127.0.0.2) is the partition, whatever it claims
        }
        Assert.Fail("A new X-Forwarded-For from an untrusted address got a rate-limit partition of its own.");
    }

    [Fact]
    public async Task ForwardedSchemeAndHostAreUsedOnlyFromTheTrustedProxy()
    {
        Assert.Equal("https://relay.example.com/", await OpenApiServerAsync(Trusted));

        using var untrusted = ClientFrom(Untrusted, relay.Scenario.Relay.BaseAddress);
        untrusted.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.ClientKey);
        Assert.Equal(relay.Scenario.Relay.BaseAddress.ToString(), await OpenApiServerAsync(untrusted));
    }

    [Fact]
    public async Task PreceptIsGivenThePublicBaseUrlAndItsCallbackArrivesThere()
    {
        using var post = await Trusted.PostAsync("enrichments", new StringContent(
            """{"lead":{"firstName":"Jane","lastName":"Public","companyName":"Acme","companyDomain":"acme.com"},"fields":["email"]}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);

        // Precept's results only come back through the callback (the sweep waits 10 minutes), so completing
        // means the callback reached the relay at that URL.
        var done = await Eventually.ReturnsAsync(() => Trusted.GetFromJsonAsync<JsonElement>(post.Headers.Location!.ToString()),
            s => s.GetProperty("state").GetString() == "completed", TimeSpan.FromSeconds(60), "the request to complete");
        Assert.Equal("found", done.GetProperty("outcome").GetString());
        var job = Assert.Single(relay.Scenario.Sandbox.Precept.Jobs, j => j.EnrichmentId == done.GetProperty("providerJobId").GetString());
        Assert.StartsWith(relay.PublicBaseUrl + "webhooks/precept/", job.WebhookUrl);
    }

    [Fact]
    public async Task TheHealthProbeModeExitsZeroForAHealthyRelayAndOneForNone()
    {
        Assert.Equal(0, await ProbeAsync(new Uri(relay.Scenario.Relay.BaseAddress, "health/live").ToString()));
        Assert.Equal(1, await ProbeAsync($"http://127.0.0.1:{RelayProcess.FreePort()}/health/live"));
    }

    static async Task PostUntilRateLimitedAsync(HttpClient client, string forwardedFor)
    {
        for (var i = 0; i < 20; i++)
        {
            using var response = await PostWebhookAsync(client, forwardedFor);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                return;
        }
        Assert.Fail($"20 callbacks in a row for {forwardedFor} were never limited to 1 a second");
    }

    static Task<HttpResponseMessage> PostWebhookAsync(HttpClient client, string forwardedFor)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/precept/not-a-token")
        {
            Content = new StringContent("""{"enrichment_id":"x","results":[]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return client.SendAsync(request);
    }

    static async Task<string?> OpenApiServerAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "openapi/v1.json");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "relay.example.com");
        request.Headers.Add("X-Forwarded-For", "203.0.113.20");
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var document = await response.Content.ReadFromJsonAsync<JsonElement>();
        return document.GetProperty("servers")[0].GetProperty("url").GetString();
    }

    /// <summary>An HTTP client whose connections come from <paramref name="local"/> (any 127.x address is loopback on Linux).</summary>
    internal static HttpClient ClientFrom(IPAddress local, Uri baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Runs <c>dotnet EnrichmentRelay.dll --healthcheck url</c>, as the container HEALTHCHECK does.</summary>
    static async Task<int> ProbeAsync(string url)
    {
        var binary = RelayProcess.RelayBinary();
        using var probe = Process.Start(new ProcessStartInfo("dotnet", [binary, "--healthcheck", url])
        {
            WorkingDirectory = Path.GetDirectoryName(binary)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Task.WhenAll(probe.StandardOutput.ReadToEndAsync(timeout.Token), probe.StandardError.ReadToEndAsync(timeout.Token),
            probe.WaitForExitAsync(timeout.Token));
        return probe.ExitCode;
    }
}
