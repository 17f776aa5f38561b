using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;

namespace EnrichmentRelay.Providers;

/// <summary>A provider whose jobs the engine polls (registered by the provider when enabled, with its reader).</summary>
/// <param name="Interval">Its poll tick, read from the provider's options.</param>
public sealed record PolledProvider(Contracts.ProviderName Name, Func<IServiceProvider, TimeSpan> Interval);

public static class ProviderExtensions
{
    /// <summary>Every enabled provider's adapter, and the pause that keeps a provider refusing the relay's key out of work.</summary>
    public static IHostApplicationBuilder AddProviders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProviderPauseOptions>().BindConfiguration(ProviderPauseOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<ProviderPauses>();
        builder.Services.AddHealthChecks().AddCheck<ProviderPausesHealthCheck>("providers", tags: ["ready"]);
        builder.AddPreceptProvider();
        builder.AddWoodpeckerProvider();
        builder.AddLanceProvider();
        return builder;
    }
}
