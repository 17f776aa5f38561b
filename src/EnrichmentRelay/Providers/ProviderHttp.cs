using Microsoft.Extensions.Http.Resilience;

namespace EnrichmentRelay.Providers;

public static class ProviderHttp
{
    /// <summary>
    /// A provider address must be absolute http(s). Checked explicitly: on Linux a path like "/api" binds as an
    /// absolute file:// URI.
    /// </summary>
    public static bool IsHttpUrl(Uri? url) => url is { IsAbsoluteUri: true } && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp);

    /// <summary>
    /// The resilience pipeline every provider client uses: a cap on concurrent calls (kept below what the
    /// provider tolerates), timeouts, a circuit breaker, and retries with jitter for reads only (and 429
    /// with Retry-After). A submit POST is never retried by the pipeline: none of the providers takes an
    /// idempotency key, so a repeat could be a second job and a second charge.
    /// </summary>
    public static IHttpClientBuilder AddProviderResilience(this IHttpClientBuilder client, Func<IServiceProvider, TimeSpan> requestTimeout,
        int maxConcurrentCalls)
    {
        client.AddStandardResilienceHandler()
            .Configure((resilience, sp) =>
            {
                var timeout = requestTimeout(sp);
                resilience.RateLimiter.DefaultRateLimiterOptions.PermitLimit = maxConcurrentCalls;
                resilience.RateLimiter.DefaultRateLimiterOptions.QueueLimit = 10_000;
                resilience.Retry.DisableForUnsafeHttpMethods();
                resilience.AttemptTimeout.Timeout = timeout;
                resilience.TotalRequestTimeout.Timeout = timeout * 3;
                resilience.CircuitBreaker.SamplingDuration = timeout * 2;
            });
        // Inside the pipeline, past its concurrency limit: a submit's start is recorded as its POST really leaves.
        client.AddHttpMessageHandler(() => new SubmitStartHandler());
        return client;
    }
}
