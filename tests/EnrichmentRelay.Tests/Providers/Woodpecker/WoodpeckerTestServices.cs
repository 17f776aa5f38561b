using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Providers.Woodpecker;

/// <summary>The Woodpecker adapter as the relay registers it, against the sandbox whose address <paramref name="options"/> gets once it runs.</summary>
public static class WoodpeckerTestServices
{
    public static IServiceCollection AddWoodpecker(this IServiceCollection services, WoodpeckerOptions options)
    {
        services.AddSingleton(Options.Create(options));
        services.AddHttpClient<WoodpeckerClient>(http =>
        {
            http.BaseAddress = options.BaseUrl;
            http.DefaultRequestHeaders.Add("x-api-key", options.ApiKey);
        }).AddProviderAnswers(ProviderName.Woodpecker, WoodpeckerClient.Endpoints);
        services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
        services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
        services.AddScoped<IJobReader, WoodpeckerJobReader>();
        return services;
    }
}
