using EnrichmentRelay.Hosting;
using EnrichmentRelay.Webhooks;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Access;

/// <summary>
/// Precept must reach its webhook from the internet; nothing else of the relay needs to be reachable from there. With
/// <see cref="RelayOptions.WebhookUrls"/> set, the relay also listens there, and a connection is told apart by the
/// port it came in on: the webhook listener serves only <c>/webhooks/precept/{token}</c> and the health probes, and
/// the main listener (the platform's <c>ASPNETCORE_URLS</c> / <c>ASPNETCORE_HTTP_PORTS</c>) no longer takes callbacks.
/// </summary>
public static class WebhookListener
{
    /// <summary>Kestrel's own default when nothing says where to listen; one more address would otherwise replace it.</summary>
    const string KestrelDefaultUrl = "http://localhost:5000";

    public static IHostApplicationBuilder AddWebhookListener(this IHostApplicationBuilder builder)
    {
        builder.Services.AddTransient<IStartupFilter, WebhookListenerAddresses>();
        return builder;
    }

    public static IApplicationBuilder UseWebhookListener(this IApplicationBuilder app)
    {
        var ports = app.ApplicationServices.GetRequiredService<IOptions<RelayOptions>>().Value.WebhookPorts;
        if (ports.Count == 0)
            return app;
        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            var isCallback = path.StartsWithSegments(PreceptWebhookApi.PathPrefix);
            var onWebhookListener = ports.Contains(context.Connection.LocalPort);
            if (onWebhookListener ? isCallback || path.StartsWithSegments("/health") : !isCallback)
            {
                await next(context);
                return;
            }
            await TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not served on this port",
                detail: onWebhookListener
                    ? "This listener serves Precept's webhook and the health probes only."
                    : "Precept's webhook is served on its own listener (Relay:WebhookUrls).").ExecuteAsync(context);
        });
    }

    /// <summary>
    /// Adds the webhook listener's addresses to the server's, after the host has put the platform's there
    /// (<c>urls</c>, <c>ASPNETCORE_HTTP_PORTS</c>) and before the server binds them.
    /// </summary>
    sealed class WebhookListenerAddresses(IOptions<RelayOptions> options) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var webhook = options.Value.WebhookListenerUrls();
            if (webhook.Count > 0 && app.ServerFeatures.Get<IServerAddressesFeature>() is { Addresses.IsReadOnly: false } server)
            {
                if (server.Addresses.Count == 0)
                    server.Addresses.Add(KestrelDefaultUrl);
                var clashes = server.Addresses.Where(a => webhook.Any(w => w.Port == BindingAddress.Parse(a).Port)).ToList();
                if (clashes.Count > 0)
                    throw new OptionsValidationException(RelayOptions.Section, typeof(RelayOptions),
                        [$"Relay:WebhookUrls must use a port of its own: {string.Join(", ", clashes)} is the main listener's."]);
                foreach (var url in options.Value.WebhookUrls!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    server.Addresses.Add(url);
            }
            next(app);
        };
    }
}
