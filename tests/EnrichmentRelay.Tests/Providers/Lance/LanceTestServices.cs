using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Providers.Lance;

/// <summary>The Lance adapter as the relay registers it, against the sandbox whose address <paramref name="options"/> gets once it runs.</summary>
public static class LanceTestServices
{
    public static IServiceCollection AddLance(this IServiceCollection services, LanceOptions options)
    {
        services.AddSingleton(Options.Create(options));
        services.AddHttpClient<LanceClient>(http =>
        {
            http.BaseAddress = options.BaseUrl;
            http.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
        })
            // As in the relay's pipeline: a submit's first POST records that it left; every answer is kept.
            .AddHttpMessageHandler(() => new SubmitStartHandler())
            .AddProviderAnswers(ProviderName.Lance, LanceClient.Endpoints);
        services.AddScoped<LanceTasks>();
        services.AddScoped<IEnrichmentProvider, LanceProvider>();
        services.AddScoped<IJobReader, LanceJobReader>();
        return services;
    }
}
