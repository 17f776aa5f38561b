using System.Threading.RateLimiting;
using EnrichmentRelay.Providers.Precept;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Hosting;

namespace EnrichmentRelay.Webhooks;

public static class WebhookExtensions
{
    public static IHostApplicationBuilder AddPreceptWebhooks(this IHostApplicationBuilder builder)
    {
        // The request path carries the per-job webhook token: the categories that log paths stay quiet.
        builder.AddTokenSafeLogging();
        builder.Services.AddSingleton<CallbackSignal>();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(PreceptWebhookApi.RateLimitPolicy, context =>
            {
                var permits = context.RequestServices.GetRequiredService<IOptions<PreceptOptions>>().Value.WebhookPermitsPerSecond;
                return RateLimitPartition.GetTokenBucketLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = permits,
                        TokensPerPeriod = permits,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                    });
            });
        });
        builder.Services.AddSingleton<CallbackWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CallbackWriter>());
        builder.Services.AddHostedService<CallbackProcessor>();
        return builder;
    }
}
