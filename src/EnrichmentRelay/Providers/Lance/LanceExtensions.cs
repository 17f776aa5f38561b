using MassTransit;
using System.Net.Http.Headers;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Polling;
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

        builder.AddBusConsumers((bus, _) =>
        {
            bus.AddConsumer<PollLanceConsumer, PollLanceConsumerDefinition>();
            bus.AddConsumer<SelectionEnrichmentRequestedConsumer, SelectionEnrichmentRequestedConsumerDefinition>();
        });
        builder.Services.AddScoped<LanceTasks>();
        builder.Services.AddScoped<IEnrichmentProvider, LanceProvider>();
        builder.Services.AddScoped<LancePoller>();
        builder.Services.AddScoped<LanceSelections>();
        builder.Services.AddScoped<FluentValidation.IValidator<SelectionEnrichmentRequested>, SelectionEnrichmentRequestedValidator>();
        builder.Services.AddSingleton(sp => new PollSchedule(PollLanceConsumer.Schedule,
            sp.GetRequiredService<IOptions<LanceOptions>>().Value.PollInterval,
            (tick, at) => new PollLance(tick, at)));
        return builder;
    }
}
