using EnrichmentRelay.Hosting;

namespace EnrichmentRelay.Webhooks;

public static class WebhookExtensions
{
    public static IHostApplicationBuilder AddPreceptWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CallbackSignal>();
        builder.Services.AddHostedService<CallbackProcessor>();
        return builder;
    }
}
