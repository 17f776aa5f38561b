using System.Collections.Concurrent;
using System.Diagnostics;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Outbox;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Webhooks;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests.Operations;

/// <summary>
/// One request, one trace: its incoming span, a mark for the batch submit and one for the callback that
/// completed it (each linked to the span that did that work for the whole batch), and the published event.
/// </summary>
public sealed class TracingTests : IAsyncLifetime, IDisposable
{
    readonly ConcurrentBag<Activity> spans = [];
    readonly ActivityListener listener;
    LedgerTestHost host = null!;

    public TracingTests()
    {
        listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is RelayTracing.SourceName or "MassTransit",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
    }

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddMassTransitTestHarness();
            services.AddOptions<OutboxOptions>();
        });
        host.Provider.FlushWindow = TimeSpan.Zero;
        await host.Services.GetRequiredService<ITestHarness>().Start();
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    public void Dispose() => listener.Dispose();

    /// <summary>
    /// The span of a caller outside the relay. Started by hand, not through a source: whether a source's span is
    /// created depends on every listener in the process, and other test classes add and remove theirs in parallel.
    /// </summary>
    static Activity StartUpstream(string name) => new Activity(name).SetIdFormat(ActivityIdFormat.W3C).Start();

    [Fact]
    public async Task ARequestsSubmitCallbackAndPublishedEventAreInTheTraceOfTheMessageThatBroughtIt()
    {
        var request = LedgerTestHost.ValidRequest();

        // 1. The message arrives (in the relay, MassTransit's consume span or ASP.NET Core's request span).
        ActivityTraceId trace;
        using (var incoming = StartUpstream("consume EnrichmentRequested"))
        {
            trace = incoming.TraceId;
            await host.ReceiveAsync(request);
        }

        // 2. The batch goes out, from the flusher's loop (no span current there).
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);

        // 3. Precept calls back, in a trace of its own (the webhook's request span).
        ActivityTraceId webhookTrace;
        var job = Assert.Single(await host.JobsAsync());
        using (var webhook = StartUpstream("POST /webhooks/precept/{token}"))
        {
            webhookTrace = webhook.TraceId;
            var body = $$"""{"enrichment_id":"job-1","status":"completed","results":[{"custom_data":{"rid":"{{request.RequestId}}"},"enrich_email":"jane.doe@acme.com"}]}""";
            await host.InScopeAsync(async sp =>
            {
                var db = sp.GetRequiredService<RelayDbContext>();
                db.ProviderCallbacks.Add(new ProviderCallbackRecord
                {
                    ProviderJobId = job.Id, Body = body, ReceivedAt = host.Time.GetUtcNow(), TraceParent = RelayTracing.CurrentTraceParent(),
                });
                return await db.SaveChangesAsync();
            });
        }
        await host.Services.GetRequiredService<CallbackProcessor>().ApplyPendingAsync(CancellationToken.None);

        // 4. The outbox publishes the completion.
        var dispatcher = ActivatorUtilities.CreateInstance<OutboxDispatcher>(host.Services);
        Assert.Equal(1, await dispatcher.PublishBatchAsync(CancellationToken.None));

        // The listener hears every test running in parallel: spans are picked by trace, never by name alone.
        var submitted = Assert.Single(spans, s => s.OperationName == "enrichment.submitted" && s.TraceId == trace);
        var submit = Assert.Single(spans, s => submitted.Links.Any(l => l.Context.SpanId == s.SpanId));
        Assert.Equal("submit precept", submit.OperationName);
        Assert.NotEqual(trace, submit.TraceId); // the batch has its own trace, linked from each of its requests' traces

        var apply = Assert.Single(spans, s => s.OperationName == "apply precept callback" && s.TraceId == webhookTrace);
        var completed = Assert.Single(spans, s => s.OperationName == "enrichment.completed" && s.TraceId == trace);
        Assert.Contains(completed.Links, l => l.Context.SpanId == apply.SpanId);
        Assert.Equal("Found", completed.GetTagItem("relay.outcome"));

        var publish = Assert.Single(spans, s => s.OperationName == "publish EnrichmentCompleted" && s.TraceId == trace);
        // MassTransit's send span continues it, and carries it to subscribers in the message headers.
        Assert.Contains(spans, s => s.Source.Name == "MassTransit" && s.TraceId == trace && s.ParentSpanId == publish.SpanId);
        var harness = host.Services.GetRequiredService<ITestHarness>();
        var sent = await harness.Published.SelectAsync<EnrichmentCompleted>().First();
        Assert.Equal(request.RequestId, sent.Context.Message.RequestId);
        Assert.Contains(sent.Context.Headers.GetAll(), h => h.Value?.ToString()?.Contains(trace.ToHexString()) == true);
    }

    [Fact]
    public async Task ARequestThatArrivedWithoutTraceContextStillCompletesAndPublishes()
    {
        var request = LedgerTestHost.ValidRequest();
        await host.ReceiveAsync(request); // nothing current: no context to store
        Assert.Null(Assert.Single(await host.RequestsAsync()).TraceParent);
        host.Provider.Answer = leads => SubmitCalls.Refused(leads, Outcome.Rejected, "refused");

        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        var dispatcher = ActivatorUtilities.CreateInstance<OutboxDispatcher>(host.Services);

        Assert.Equal(1, await dispatcher.PublishBatchAsync(CancellationToken.None));
        Assert.DoesNotContain(spans, s => s.OperationName is "enrichment.submitted" or "enrichment.completed"
                                          && Equals(s.GetTagItem("relay.request_id"), request.RequestId));
    }
}
