using System.ComponentModel.DataAnnotations;
using System.Net;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Hosting;

public sealed class RelayHostingTests
{
    [Theory]
    // ASP.NET Core alone would believe loopback; with nothing configured the relay believes nobody.
    [InlineData(null, "127.0.0.1", "203.0.113.5", "127.0.0.1 http relay.internal")]
    [InlineData(null, "10.1.2.3", "203.0.113.5", "10.1.2.3 http relay.internal")]
    [InlineData("10.0.0.0/8", "10.1.2.3", "203.0.113.5", "203.0.113.5 https relay.example.com")]
    [InlineData("10.1.2.3", "10.1.2.3", "203.0.113.5", "203.0.113.5 https relay.example.com")]
    [InlineData("10.0.0.0/8", "192.168.1.1", "203.0.113.5", "192.168.1.1 http relay.internal")]
    // A chain of trusted proxies is followed to the first address that is not one of them.
    [InlineData("10.0.0.0/8", "10.1.2.3", "198.51.100.7, 203.0.113.5, 10.9.9.9", "203.0.113.5 https relay.example.com")]
    public async Task ForwardedHeadersAreBelievedOnlyFromTrustedProxies(string? trusted, string connectionFrom, string forwardedFor, string seen)
    {
        await using var app = await StartAsync(trusted is null ? [] : new() { ["Relay:TrustedProxies:0"] = trusted });

        var context = await app.GetTestServer().SendAsync(c =>
        {
            c.Connection.RemoteIpAddress = IPAddress.Parse(connectionFrom);
            c.Request.Path = "/who";
            c.Request.Host = new HostString("relay.internal");
            c.Request.Headers["X-Forwarded-For"] = forwardedFor;
            c.Request.Headers["X-Forwarded-Proto"] = "https";
            c.Request.Headers["X-Forwarded-Host"] = "relay.example.com";
        });

        Assert.Equal(seen, await new StreamReader(context.Response.Body).ReadToEndAsync());
    }

    [Fact]
    public async Task TheShutdownTimeoutIsTheHostsAndConfigurable()
    {
        await using (var defaults = await StartAsync([]))
            Assert.Equal(TimeSpan.FromSeconds(30), defaults.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        await using var configured = await StartAsync(new() { ["Relay:ShutdownTimeout"] = "00:01:00" });
        Assert.Equal(TimeSpan.FromMinutes(1), configured.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30),
            configured.Services.GetRequiredService<IOptions<MassTransit.MassTransitHostOptions>>().Value.ConsumerStopTimeout);
    }

    [Theory]
    [InlineData("relay.example.com")]            // not absolute
    [InlineData("ftp://relay.example.com/")]     // not http(s)
    [InlineData("https://relay.example.com/?x=1")]
    public void APublicBaseUrlThatCannotPrefixACallbackPathIsRefused(string url) =>
        Assert.Contains(nameof(RelayOptions.PublicBaseUrl), Problems(new RelayOptions { PublicBaseUrl = url }));

    [Theory]
    [InlineData("proxy.internal")]
    [InlineData("10.0.0.0/x")]
    [InlineData("10.0.0.0/33")]
    public void ATrustedProxyThatIsNoAddressOrNetworkIsRefused(string proxy) =>
        Assert.Contains(nameof(RelayOptions.TrustedProxies), Problems(new RelayOptions { TrustedProxies = [proxy] }));

    [Fact]
    public void AShutdownTimeoutOutsideOneSecondToTenMinutesIsRefused()
    {
        Assert.Contains(nameof(RelayOptions.ShutdownTimeout), Problems(new RelayOptions { ShutdownTimeout = TimeSpan.Zero }));
        Assert.Contains(nameof(RelayOptions.ShutdownTimeout), Problems(new RelayOptions { ShutdownTimeout = TimeSpan.FromHours(1) }));
        Assert.Empty(Problems(new RelayOptions
        {
            PublicBaseUrl = "https://relay.example.com/base", TrustedProxies = ["10.0.0.0/8", "::1", "192.168.0.7"],
            ShutdownTimeout = TimeSpan.FromMinutes(2),
        }));
    }

    [Theory]
    [InlineData("https://relay.example.com", "https://relay.example.com/webhooks/precept/t0k3n")]
    // Behind a proxy that serves the relay under a path, the callback keeps it.
    [InlineData("https://gateway.example.com/relay", "https://gateway.example.com/relay/webhooks/precept/t0k3n")]
    [InlineData("https://gateway.example.com/relay/", "https://gateway.example.com/relay/webhooks/precept/t0k3n")]
    public void ThePublicBaseUrlPrefixesTheCallbackUrl(string configured, string callback)
    {
        var urls = new PublicUrls(new NotListening(), Options.Create(new RelayOptions { PublicBaseUrl = configured }));
        // How PreceptProvider builds Precept's webhookUrl.
        Assert.Equal(callback, new Uri(urls.BaseUrl, "webhooks/precept/t0k3n").ToString());
    }

    static List<string> Problems(RelayOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results.SelectMany(r => r.MemberNames).ToList();
    }

    /// <summary>The relay's hosting setup on a test server, with an endpoint that says who it thinks called.</summary>
    static async Task<WebApplication> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseTestServer();
        builder.AddRelayHosting();
        var app = builder.Build();
        app.UseForwardedHeaders();
        app.MapGet("/who", (HttpContext c) => $"{c.Connection.RemoteIpAddress} {c.Request.Scheme} {c.Request.Host}");
        await app.StartAsync();
        return app;
    }

    sealed class NotListening : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();
        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken ct) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
        public void Dispose() { }
    }
}
