using MassTransit;
using EnrichmentRelay.Contracts;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Precept;

public static class PreceptExtensions
{
    public static IHostApplicationBuilder AddPreceptProvider(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PreceptOptions>()
            .BindConfiguration(PreceptOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        var enabled = builder.Configuration.GetValue(PreceptOptions.Section + ":Enabled", true);
        if (!enabled)
            return builder;

        builder.Services.AddHttpClient<PreceptClient>((sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<PreceptOptions>>().Value;
                http.BaseAddress = options.BaseUrl;
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            })
            // Precept documents no rate limit: a few calls at a time is all the relay needs (jobs of 1,000 leads).
            .AddProviderResilience(sp => sp.GetRequiredService<IOptions<PreceptOptions>>().Value.RequestTimeout, maxConcurrentCalls: 4)
            .AddProviderPauseWatch(ProviderName.Precept)
            .AddProviderCallMetrics(ProviderName.Precept, PreceptClient.Endpoints)
            .AddProviderAnswers(ProviderName.Precept, PreceptClient.Endpoints);

        builder.Services.AddScoped<PreceptProvider>();
        builder.Services.AddScoped<PreceptJobFinder>();
        builder.Services.AddScoped<IJobReader, PreceptJobReader>();
        builder.Services.AddSingleton(new PolledProvider(ProviderName.Precept, sp => sp.GetRequiredService<IOptions<PreceptOptions>>().Value.SweepInterval));
        builder.Services.AddScoped<IEnrichmentProvider>(sp => sp.GetRequiredService<PreceptProvider>());
        builder.Services.AddSingleton<IAnswerTranslation, PreceptAnswerTranslation>();
        return builder;
    }
}
