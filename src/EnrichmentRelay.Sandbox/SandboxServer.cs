using EnrichmentRelay.Sandbox.Precept;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace EnrichmentRelay.Sandbox;

public sealed class SandboxOptions
{
    /// <summary>0 picks any free loopback port.</summary>
    public int Port { get; set; }
    public string PreceptApiKey { get; set; } = "sandbox-precept-key";
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// The provider simulators on their own Kestrel server, bound to 127.0.0.1 only: the relay's real
/// HTTP clients talk to it exactly as they would to the vendors.
/// </summary>
public sealed class SandboxServer : IAsyncDisposable
{
    readonly WebApplication app;

    public Uri BaseAddress { get; }
    public PreceptSimulator Precept { get; }

    SandboxServer(WebApplication app, Uri baseAddress, PreceptSimulator precept)
    {
        this.app = app;
        BaseAddress = baseAddress;
        Precept = precept;
    }

    public static async Task<SandboxServer> StartAsync(SandboxOptions options, CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // Hosted inside the relay, it must not pick up the relay's settings (URLs, log levels).
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.WebHost.UseUrls($"http://127.0.0.1:{options.Port}");
        // The sandbox runs inside the relay or the tests: keep it out of their logs.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);

        var precept = new PreceptSimulator(options.PreceptApiKey, options.TimeProvider);
        builder.Services.AddSingleton(precept);
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(
            new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));

        var app = builder.Build();
        app.MapPreceptApi();
        app.MapPreceptControl();
        app.MapPost("/sandbox/reset", (PreceptSimulator p) =>
        {
            p.Reset();
            return TypedResults.NoContent();
        });
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SandboxServer(app, new Uri(address.TrimEnd('/') + "/"), precept);
    }

    public async ValueTask DisposeAsync()
    {
        Precept.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>Standalone: <c>dotnet run --project src/EnrichmentRelay.Sandbox -- --port 5081</c>.</summary>
public static class SandboxProgram
{
    public static async Task Main(string[] args)
    {
        var config = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var options = new SandboxOptions
        {
            Port = config.GetValue("port", config.GetValue("Sandbox:Port", 5081)),
            PreceptApiKey = config["Sandbox:PreceptApiKey"] ?? "sandbox-precept-key",
        };
        await using var sandbox = await SandboxServer.StartAsync(options);
        Console.WriteLine($"Provider sandbox listening on {sandbox.BaseAddress} (Precept key: {options.PreceptApiKey})");
        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
        await stop.Task;
    }
}
