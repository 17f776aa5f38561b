using System.Diagnostics;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Ledger;

/// <summary>The telemetry of ledger rows: a job's log scope, and the marks a request leaves in its own trace.</summary>
public static class LedgerTelemetry
{
    public static IDisposable? BeginJobScope(this ILogger logger, ProviderJobRecord job) =>
        logger.BeginJobScope(job.Provider, job.Name, job.ExternalId);

    /// <summary>Records in the request's trace that it went out in <paramref name="submit"/>.</summary>
    public static void TraceSubmitted(this EnrichmentRequestRecord request, Activity? submit) =>
        RelayTracing.Submitted(request.RequestId, request.Provider, request.TraceParent, submit);

    /// <summary>Records in the request's trace that it completed, linked to what completed it (the current span).</summary>
    public static void TraceCompleted(this EnrichmentRequestRecord request) =>
        RelayTracing.Completed(request.RequestId, request.Provider, request.Outcome, request.TraceParent);
}
