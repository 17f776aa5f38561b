using System.Diagnostics;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Providers;

/// <summary>
/// Times every HTTP attempt to a provider and counts its errors, tagged with the provider and the route
/// template it matched (<c>GET v1/jobs/{id}</c>): never the raw path, which carries ids. Sits inside the
/// resilience pipeline, so each retry is one measurement and time spent queuing for a permit is not.
/// </summary>
public sealed class ProviderCallMetrics(string provider, IReadOnlyList<string> endpoints, RelayMetrics metrics) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var endpoint = $"{request.Method.Method} {EndpointOf(request.RequestUri, endpoints)}";
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await base.SendAsync(request, ct);
            metrics.ProviderCall(provider, endpoint, Stopwatch.GetElapsedTime(started),
                response.IsSuccessStatusCode ? null : ((int)response.StatusCode).ToString());
            return response;
        }
        catch (Exception ex)
        {
            metrics.ProviderCall(provider, endpoint, Stopwatch.GetElapsedTime(started), ex switch
            {
                HttpRequestException http => http.HttpRequestError.ToString(),
                OperationCanceledException => "Timeout",
                _ => ex.GetType().Name,
            });
            throw;
        }
    }

    /// <summary>
    /// The template (<c>v1/jobs/{id}</c>: a <c>{…}</c> segment matches any one segment) that ends the path,
    /// whatever base path the provider's address has; "other" when none does, so the tag stays bounded.
    /// </summary>
    public static string EndpointOf(Uri? uri, IReadOnlyList<string> templates)
    {
        if (uri is null)
            return "other";
        var path = (uri.IsAbsoluteUri ? uri.AbsolutePath : uri.OriginalString.Split('?')[0]).Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var template in templates)
        {
            var parts = template.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > path.Length)
                continue;
            var offset = path.Length - parts.Length;
            if (parts.Select((part, i) => part.StartsWith('{') || string.Equals(part, path[offset + i], StringComparison.OrdinalIgnoreCase)).All(ok => ok))
                return template;
        }
        return "other";
    }
}

public static class ProviderCallMetricsExtensions
{
    /// <summary>Call after <see cref="ProviderHttp.AddProviderResilience"/>, so the handler sits inside the pipeline.</summary>
    public static IHttpClientBuilder AddProviderCallMetrics(this IHttpClientBuilder client, ProviderName provider, IReadOnlyList<string> endpoints) =>
        client.AddHttpMessageHandler(sp => new ProviderCallMetrics(RelayMetrics.Tag(provider), endpoints, sp.GetRequiredService<RelayMetrics>()));
}
