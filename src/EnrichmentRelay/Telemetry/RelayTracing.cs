using System.Diagnostics;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Telemetry;

/// <summary>
/// One trace per request, although the relay's work is batched and asynchronous. The W3C context of the
/// message (or HTTP call) that brought a request is stored with its row. Each later step then writes a
/// short span into that trace, linked to the span that did the work for many requests at once:
/// <c>enrichment.submitted</c> links to the batch's submit span (and its provider HTTP calls),
/// <c>enrichment.completed</c> to the callback, poll or submit that finished it, and the outbox publishes
/// the <c>EnrichmentCompleted</c> under the request's context, so MassTransit carries the same trace to
/// subscribers. Links, not one batch span with 1,000 parents: a span has one parent, and the SDK keeps
/// only 128 links per span.
/// </summary>
public static class RelayTracing
{
    public const string SourceName = "EnrichmentRelay";
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The current context as a W3C <c>traceparent</c>, to store with work that outlives this call.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    public static ActivityContext? Parse(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out var context) ? context : null;

    /// <summary>
    /// Starts a span in the trace <paramref name="traceParent"/> names; without one, under the current span if
    /// any (the background loops have none, so there it starts a new trace).
    /// </summary>
    public static Activity? StartIn(string name, string? traceParent, ActivityKind kind = ActivityKind.Internal, IEnumerable<ActivityLink>? links = null) =>
        Source.StartActivity(name, kind, Parse(traceParent) ?? default, links: links);

    /// <summary>Records in the request's trace (<paramref name="traceParent"/>) that it went out in <paramref name="submit"/>.</summary>
    public static void Submitted(Guid requestId, ProviderName? provider, string? traceParent, Activity? submit) =>
        Mark("enrichment.submitted", requestId, provider, traceParent, submit?.Context, tags: null);

    /// <summary>Records in the request's trace that it completed, linked to what completed it (the current span).</summary>
    public static void Completed(Guid requestId, ProviderName? provider, Outcome? outcome, string? traceParent) =>
        Mark("enrichment.completed", requestId, provider, traceParent, Activity.Current?.Context,
            new KeyValuePair<string, object?>("relay.outcome", outcome?.ToString()));

    static void Mark(string name, Guid requestId, ProviderName? provider, string? traceParent, ActivityContext? cause, KeyValuePair<string, object?>? tags)
    {
        // A request that arrived with no trace context (nothing was tracing then) has no trace to write into.
        if (!Source.HasListeners() || Parse(traceParent) is not { } parent)
            return;
        ActivityLink[] links = cause is { } c && c != default ? [new ActivityLink(c)] : [];
        using var span = Source.StartActivity(name, ActivityKind.Internal, parent, links: links);
        if (span is null)
            return;
        span.SetTag("relay.request_id", requestId);
        span.SetTag("relay.provider", RelayMetrics.Tag(provider));
        if (tags is { } tag)
            span.SetTag(tag.Key, tag.Value);
    }
}
