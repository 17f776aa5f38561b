using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Hosting;

/// <summary>
/// With no provider configured, the relay starts the provider simulators in-process on a loopback port
/// and points the real provider clients at them, so <c>dotnet run</c> works with no settings at all.
/// </summary>
public static class EmbeddedSandbox
{
    public const string EnabledKey = "Sandbox:Enabled";

    public static IHostApplicationBuilder AddEmbeddedSandbox(this IHostApplicationBuilder builder)
    {
        var preceptConfigured = !string.IsNullOrWhiteSpace(builder.Configuration[PreceptOptions.Section + ":BaseUrl"]);
        if (!builder.Configuration.GetValue(EnabledKey, defaultValue: !preceptConfigured))
            return builder;

        var options = new SandboxOptions();
        var sandbox = SandboxServer.StartAsync(options).GetAwaiter().GetResult();
        builder.Services.AddSingleton(sandbox);
        builder.Services.AddHostedService<SandboxLifetime>();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [PreceptOptions.Section + ":BaseUrl"] = sandbox.BaseAddress.ToString(),
            [PreceptOptions.Section + ":ApiKey"] = options.PreceptApiKey,
        });
        return builder;
    }

    /// <summary>Announces the sandbox and stops it with the host.</summary>
    sealed class SandboxLifetime(SandboxServer sandbox, ILogger<SandboxLifetime> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken ct)
        {
            logger.LogWarning("No provider configured: using the embedded sandbox providers at {SandboxUrl} (simulated results, no real charges)",
                sandbox.BaseAddress);
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken ct) => await sandbox.DisposeAsync();
    }
}
