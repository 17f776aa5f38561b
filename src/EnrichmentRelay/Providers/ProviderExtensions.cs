using EnrichmentRelay.Hosting;
using EnrichmentRelay.Polling;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;

namespace EnrichmentRelay.Providers;

public static class ProviderExtensions
{
    /// <summary>Every enabled provider, and the flusher that packs requests into their batches.</summary>
    public static IHostApplicationBuilder AddProviders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<BatchFlushSignal>();
        builder.Services.AddOptions<ProviderPauseOptions>().BindConfiguration(ProviderPauseOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<ProviderPauses>();
        builder.Services.AddHealthChecks().AddCheck<ProviderPausesHealthCheck>("providers", tags: ["ready"]);
        builder.AddPreceptProvider();
        builder.AddWoodpeckerProvider();
        builder.AddLanceProvider();
        builder.Services.AddHostedService<BatchFlusher>();
        // Publishes each polled provider's Poll command on its tick (the scheduled consumers).
        builder.Services.AddHostedService<PollTicker>();
        return builder;
    }
}
