using System.Net.Http.Headers;
using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

public static class LanceExtensions
{
    public static IHostApplicationBuilder AddLanceProvider(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LanceOptions>()
            .BindConfiguration(LanceOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (!builder.Configuration.GetValue(LanceOptions.Section + ":Enabled", true))
            return builder;

        builder.Services.AddHttpClient<LanceClient>((sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<LanceOptions>>().Value;
                http.BaseAddress = new Uri(options.BaseUrl!.ToString().TrimEnd('/') + "/");
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            })
            // Lance documents no rate limit either; person reads after a poll are the burst this caps.
            .AddProviderResilience(sp => sp.GetRequiredService<IOptions<LanceOptions>>().Value.RequestTimeout, maxConcurrentCalls: 8)
            .AddProviderPauseWatch(ProviderName.Lance)
            .AddProviderCallMetrics(ProviderName.Lance, LanceClient.Endpoints)
            .AddProviderAnswers(ProviderName.Lance, LanceClient.Endpoints);

        // Scoped: one flush, poll or selection at a time (see LanceTasks).
        builder.Services.AddScoped<LanceTasks>();
        builder.Services.AddScoped<IEnrichmentProvider, LanceProvider>();
        builder.Services.AddScoped<IJobReader, LanceJobReader>();
        builder.Services.AddSingleton<IAnswerTranslation, LanceAnswerTranslation>();
        builder.Services.AddSingleton(new PolledProvider(ProviderName.Lance, sp => sp.GetRequiredService<IOptions<LanceOptions>>().Value.PollInterval));
        return builder;
    }
}
