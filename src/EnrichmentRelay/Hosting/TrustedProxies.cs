using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Hosting;

public static class TrustedProxiesExtensions
{
    /// <summary>
    /// Behind a reverse proxy the connection comes from the proxy: <c>UseForwardedHeaders</c> takes the
    /// client's address, scheme and host from <c>X-Forwarded-For</c>/<c>-Proto</c>/<c>-Host</c>, but only
    /// when the connection comes from one of <see cref="RelayOptions.TrustedProxies"/>. That way the webhook
    /// rate limiter partitions by the real caller and request URLs (the OpenAPI server, for one) are right.
    /// </summary>
    public static IHostApplicationBuilder AddTrustedProxies(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<RelayOptions>>((forwarded, relay) =>
        {
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            var trusted = relay.Value.TrustedProxies.Select(RelayOptions.ParseNetwork).OfType<System.Net.IPNetwork>().ToList();
            // With no known proxy or network at all the middleware would believe anyone, so nothing trusted
            // means the headers are not read.
            if (trusted.Count == 0)
            {
                forwarded.ForwardedHeaders = ForwardedHeaders.None;
                return;
            }
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            foreach (var network in trusted)
                forwarded.KnownIPNetworks.Add(network);
            // Every hop is checked against the trusted list, so a chain of trusted proxies is followed to the
            // first address that is not one of them, however long the chain.
            forwarded.ForwardLimit = null;
        });
        return builder;
    }
}
