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
        // The request path carries the per-job webhook token; keep the ASP.NET Core categories that log paths
        // from writing it whatever the log configuration says (rules added after configuration win). Hosting
        // is switched off entirely: while it is enabled at all it opens a RequestPath scope on every request,
        // which IncludeScopes would print on each line logged during a webhook call.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing.Matching", LogLevel.Warning);
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
