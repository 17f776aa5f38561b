using EnrichmentRelay.Hosting;
using EnrichmentRelay.Providers.Precept;

namespace EnrichmentRelay.Providers;

public static class ProviderExtensions
{
    /// <summary>Every enabled provider, and the flusher that packs requests into their batches.</summary>
    public static IHostApplicationBuilder AddProviders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RelayOptions>().BindConfiguration(RelayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PublicUrls>();
        builder.Services.AddSingleton<BatchFlushSignal>();
        builder.AddPreceptProvider();
        builder.Services.AddHostedService<BatchFlusher>();
        return builder;
    }
}
