using System.Net.Http.Headers;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

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
            .AddStandardResilienceHandler()
            .Configure((resilience, sp) =>
            {
                var precept = sp.GetRequiredService<IOptions<PreceptOptions>>().Value;
                // Reads and "nothing was done" answers may be retried; a submit POST never is:
                // Precept has no idempotency key, so a repeat is a second job and a second charge.
                resilience.Retry.DisableForUnsafeHttpMethods();
                resilience.AttemptTimeout.Timeout = precept.RequestTimeout;
                resilience.TotalRequestTimeout.Timeout = precept.RequestTimeout * 3;
                resilience.CircuitBreaker.SamplingDuration = precept.RequestTimeout * 2;
            });

        builder.Services.AddScoped<PreceptProvider>();
        builder.Services.AddScoped<IEnrichmentProvider>(sp => sp.GetRequiredService<PreceptProvider>());
        return builder;
    }
}
