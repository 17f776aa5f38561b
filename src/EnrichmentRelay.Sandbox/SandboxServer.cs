using System.Net;
using System.Net.Sockets;
using EnrichmentRelay.Sandbox.Lance;
using EnrichmentRelay.Sandbox.Precept;
using EnrichmentRelay.Sandbox.Woodpecker;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;

namespace EnrichmentRelay.Sandbox;

public sealed class SandboxOptions
{
    /// <summary>0 picks any free port.</summary>
    public int Port { get; set; }
    /// <summary>
    /// The address to listen on: loopback by default (in-process for the relay and the tests); 0.0.0.0 in a
    /// container, so the relay containers can reach it.
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";
    public string PreceptApiKey { get; set; } = "sandbox-precept-key";
    public string WoodpeckerApiKey { get; set; } = "sandbox-woodpecker-key";
    public string LanceApiKey { get; set; } = "sandbox-lance-key";
    /// <summary>Drives processing delays and webhook backoff, so tests can use a fake clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// The provider simulators on their own Kestrel server, bound to 127.0.0.1 unless told otherwise: the
/// relay's real HTTP clients talk to it exactly as they would to the vendors.
/// </summary>
public sealed class SandboxServer : IAsyncDisposable
{
    readonly WebApplication app;

    public Uri BaseAddress { get; }
    public PreceptSimulator Precept { get; }
    public WoodpeckerSimulator Woodpecker { get; }
    public LanceSimulator Lance { get; }

    SandboxServer(WebApplication app, Uri baseAddress, PreceptSimulator precept, WoodpeckerSimulator woodpecker,
        LanceSimulator lance)
    {
        this.app = app;
        BaseAddress = baseAddress;
        Precept = precept;
        Woodpecker = woodpecker;
        Lance = lance;
    }

    public static async Task<SandboxServer> StartAsync(SandboxOptions options, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.PreceptApiKey);
        if (!IPAddress.TryParse(options.ListenAddress, out var listenAddress))
            throw new ArgumentException($"ListenAddress must be an IP address, got '{options.ListenAddress}'.", nameof(options));

        // No watcher of settings files (they are cleared below): it would watch the working directory and all below it,
        // where the relay keeps its SQLite ledger by default (and the benchmark its ledgers), and every write of the
        // ledger would wake it, at a cost to the writer too.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        // Hosted inside the relay, it must not pick up the relay's settings (URLs, log levels); the empty
        // in-memory source is there because UseUrls writes to configuration, which needs a source.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        var host = listenAddress.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listenAddress}]" : listenAddress.ToString();
        builder.WebHost.UseUrls($"http://{host}:{options.Port}");
        // The sandbox runs inside the relay or the tests: keep it out of their logs.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        // The default console lifetime would stop the sandbox on the host's Ctrl+C or SIGTERM, before the
        // host has drained its calls to it; it stops when disposed instead.
        builder.Services.AddSingleton<IHostLifetime, StopsWhenDisposed>();

        var precept = new PreceptSimulator(options.PreceptApiKey, options.TimeProvider);
        builder.Services.AddSingleton(precept);
        var woodpecker = new WoodpeckerSimulator(options.WoodpeckerApiKey, options.TimeProvider);
        builder.Services.AddSingleton(woodpecker);
        var lance = new LanceSimulator(options.LanceApiKey, options.TimeProvider);
        builder.Services.AddSingleton(lance);

        var app = builder.Build();
        app.MapPreceptApi();
        app.MapPreceptControl();
        app.MapWoodpeckerApi();
        app.MapWoodpeckerControl();
        app.MapLanceApi();
        app.MapLanceControl();
        // For a container health check: the server answers.
        app.MapGet("/sandbox/health", () => TypedResults.Ok());
        app.MapPost("/sandbox/reset", (PreceptSimulator p, WoodpeckerSimulator w, LanceSimulator l) =>
        {
            p.Reset();
            w.Reset();
            l.Reset();
            return TypedResults.NoContent();
        });
        try
        {
            await app.StartAsync(ct);
        }
        catch
        {
            await app.DisposeAsync();
            await precept.DisposeAsync();
            throw;
        }

        // With port 0 only the server knows the port it got.
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new SandboxServer(app, new Uri(address.TrimEnd('/') + "/"), precept, woodpecker, lance);
    }

    /// <summary>Stops taking requests first, then stops running jobs and webhook deliveries.</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        await Precept.DisposeAsync();
    }

    sealed class StopsWhenDisposed : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken ct) => Task.CompletedTask;
        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
    }
}
