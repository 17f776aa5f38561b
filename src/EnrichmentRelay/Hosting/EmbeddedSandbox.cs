using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
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
        string[] sections = [PreceptOptions.Section, WoodpeckerOptions.Section, LanceOptions.Section];
        bool Configured(string section) => !string.IsNullOrWhiteSpace(builder.Configuration[section + ":BaseUrl"]);
        if (!builder.Configuration.GetValue(EnabledKey, defaultValue: !sections.Any(Configured)))
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
