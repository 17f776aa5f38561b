using EnrichmentRelay.Contracts;
using EnrichmentRelay.Polling;
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
            .AddProviderCallMetrics(ProviderName.Woodpecker, WoodpeckerClient.Endpoints);

        // Order matters: a lead with a Lead Finder uid goes to lead enrichment before prospect enrichment.
        builder.Services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
        builder.Services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
        builder.Services.AddScoped<WoodpeckerPoller>();
        builder.Services.AddSingleton(sp => new PollSchedule(PollWoodpeckerConsumer.Schedule,
            sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value.PollInterval,
            (tick, at) => new PollWoodpecker(tick, at)));
        return builder;
    }
}

/// <summary>
/// Woodpecker processes one request at a time per key and drops what waits too long, so this relay
/// sends it one request at a time: submits and polls alike.
/// </summary>
public sealed class WoodpeckerRequestGate
{
    readonly SemaphoreSlim turn = new(1, 1);

    public sealed class Handler(WoodpeckerRequestGate gate) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            await gate.turn.WaitAsync(ct);
            try
            {
                return await base.SendAsync(request, ct);
            }
            finally
            {
                gate.turn.Release();
            }
        }
    }
}
