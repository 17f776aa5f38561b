using EnrichmentRelay.Contracts;


namespace EnrichmentRelay.Telemetry;

/// <summary>
/// The scopes every line about a request or a provider job carries: structured fields with the JSON console
/// formatter (<c>IncludeScopes</c>), readable text (<c>RequestId:…</c>) with the simple one. Ids only: never a
/// token, a key or lead data.
/// </summary>
public static class LogScopes
{
    static readonly Func<ILogger, Guid, IDisposable?> RequestScope =
        LoggerMessage.DefineScope<Guid>("RequestId:{RequestId}");

    static readonly Func<ILogger, string, string, string?, IDisposable?> JobScope =
        LoggerMessage.DefineScope<string, string, string?>("Provider:{Provider} JobName:{JobName} ProviderJobId:{ProviderJobId}");

    public static IDisposable? BeginRequestScope(this ILogger logger, Guid requestId) => RequestScope(logger, requestId);

    /// <summary>Our job name (how the provider knows the job when we named it) and the provider's own job id once known.</summary>
    public static IDisposable? BeginJobScope(this ILogger logger, ProviderName provider, string jobName, string? providerJobId) =>
        JobScope(logger, RelayMetrics.Tag(provider), jobName, providerJobId);
}
