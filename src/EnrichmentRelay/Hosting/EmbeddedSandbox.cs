using EnrichmentRelay.Messaging;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Hosting;

/// <summary>
/// In the zero-settings local mode (in-memory bus, no provider address) the relay starts the provider simulators
/// in-process on a loopback port and points the real provider clients at them, so <c>dotnet run</c> works with no
/// settings at all. Anywhere else they run only when <c>Sandbox:Enabled=true</c> says so: a deployment on RabbitMQ
/// that forgot a provider's address stops with a settings error naming it, rather than publishing simulated
/// results to real subscribers.
/// </summary>
public static class EmbeddedSandbox
{
    public const string EnabledKey = "Sandbox:Enabled";

    public static IHostApplicationBuilder AddEmbeddedSandbox(this IHostApplicationBuilder builder)
    {
        string[] sections = [PreceptOptions.Section, WoodpeckerOptions.Section, LanceOptions.Section];
        bool Configured(string section) => !string.IsNullOrWhiteSpace(builder.Configuration[section + ":BaseUrl"]);
        if (!builder.Configuration.GetValue(EnabledKey, defaultValue: IsLocalMode(builder.Configuration) && !sections.Any(Configured)))
            return builder;

        var options = new SandboxOptions();
        var sandbox = SandboxServer.StartAsync(options).GetAwaiter().GetResult();
        builder.Services.AddSingleton(sandbox);
        builder.Services.AddHostedService<SandboxLifetime>();
        // Only providers without a real address of their own are pointed at the sandbox.
        var simulated = new Dictionary<string, (string BaseUrl, string ApiKey)>
        {
            [PreceptOptions.Section] = (sandbox.BaseAddress.ToString(), options.PreceptApiKey),
            [WoodpeckerOptions.Section] = (new Uri(sandbox.BaseAddress, "rest/").ToString(), options.WoodpeckerApiKey),
            [LanceOptions.Section] = (sandbox.BaseAddress.ToString(), options.LanceApiKey),
        };
        builder.Configuration.AddInMemoryCollection(simulated
            .Where(p => !Configured(p.Key))
            .SelectMany(p => new KeyValuePair<string, string?>[] { new(p.Key + ":BaseUrl", p.Value.BaseUrl), new(p.Key + ":ApiKey", p.Value.ApiKey) }));
        return builder;
    }

    /// <summary>
    /// The in-memory bus: nothing the relay publishes leaves the process, so simulated results reach no real subscriber.
    /// Read as configured (a value that is no transport is reported by the settings check, not here).
    /// </summary>
    static bool IsLocalMode(IConfiguration configuration) =>
        configuration[BusOptions.Section + ":" + nameof(BusOptions.Transport)] is not { Length: > 0 } transport
        || (Enum.TryParse<BusTransport>(transport, ignoreCase: true, out var parsed) && parsed == BusTransport.InMemory);

    /// <summary>Announces the sandbox and stops it with the host.</summary>
    sealed class SandboxLifetime(SandboxServer sandbox, ILogger<SandboxLifetime> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken ct)
        {
            logger.LogWarning("Using the embedded sandbox for every provider without a BaseUrl, at {SandboxUrl} (simulated results, no real charges)",
                sandbox.BaseAddress);
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken ct) => await sandbox.DisposeAsync();
    }
}
