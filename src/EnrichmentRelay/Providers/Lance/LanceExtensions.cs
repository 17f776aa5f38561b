using System.Net.Http.Headers;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Polling;
using Microsoft.Extensions.Http.Resilience;
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
            .AddStandardResilienceHandler()
            .Configure((resilience, sp) =>
            {
                var lance = sp.GetRequiredService<IOptions<LanceOptions>>().Value;
                // Even though Lance dedupes by person and field, a submit is repeated only by the next
                // poll, after the outcome of the first is known, never blindly by the pipeline.
                resilience.Retry.DisableForUnsafeHttpMethods();
                resilience.AttemptTimeout.Timeout = lance.RequestTimeout;
                resilience.TotalRequestTimeout.Timeout = lance.RequestTimeout * 3;
                resilience.CircuitBreaker.SamplingDuration = lance.RequestTimeout * 2;
            });

        builder.Services.AddScoped<IEnrichmentProvider, LanceProvider>();
        builder.Services.AddScoped<LancePoller>();
        builder.Services.AddSingleton(sp => new PollSchedule(PollLanceConsumer.Schedule,
            sp.GetRequiredService<IOptions<LanceOptions>>().Value.PollInterval,
            (tick, at) => new PollLance(tick, at)));
        return builder;
    }
}
