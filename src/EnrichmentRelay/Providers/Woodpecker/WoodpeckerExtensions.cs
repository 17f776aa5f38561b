using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Woodpecker;

public static class WoodpeckerExtensions
{
    public static IHostApplicationBuilder AddWoodpeckerProvider(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WoodpeckerOptions>()
            .BindConfiguration(WoodpeckerOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (!builder.Configuration.GetValue(WoodpeckerOptions.Section + ":Enabled", true))
            return builder;

        builder.Services.AddSingleton<WoodpeckerRequestGate>();
        builder.Services.AddTransient<WoodpeckerRequestGate.Handler>();
        builder.Services.AddHttpClient<WoodpeckerClient>((sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value;
                http.BaseAddress = new Uri(options.BaseUrl!.ToString().TrimEnd('/') + "/");
                http.DefaultRequestHeaders.Add("x-api-key", options.ApiKey);
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            })
            // Outermost, so retries also wait their turn: Woodpecker processes one request at a time.
            .AddHttpMessageHandler<WoodpeckerRequestGate.Handler>()
            .AddProviderResilience(sp => sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value.RequestTimeout, maxConcurrentCalls: 1)
            .AddProviderPauseWatch(ProviderName.Woodpecker)
            .AddProviderCallMetrics(ProviderName.Woodpecker, WoodpeckerClient.Endpoints)
            .AddProviderAnswers(ProviderName.Woodpecker, WoodpeckerClient.Endpoints);

        // Order matters: a lead with a Lead Finder uid goes to lead enrichment before prospect enrichment.
        builder.Services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
        builder.Services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
        builder.Services.AddScoped<IJobReader, WoodpeckerJobReader>();
        builder.Services.AddSingleton<IAnswerTranslation, WoodpeckerAnswerTranslation>();
        builder.Services.AddSingleton(new PolledProvider(ProviderName.Woodpecker, sp => sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value.PollInterval));
        return builder;
    }
}
