using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers.Precept;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Webhooks;

/// <summary>
/// Applies stored Precept callbacks to their requests. Each callback is applied in one transaction
/// (terminal states, outbox rows, inbox keys, the callback marked processed), so a crash re-applies
/// it whole, and duplicates or retries change nothing because each (job, lead) is applied once.
/// </summary>
public sealed class CallbackProcessor(
    IServiceScopeFactory scopes,
    CallbackSignal signal,
    TimeProvider time,
    ILogger<CallbackProcessor> logger) : BackgroundService
{
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    const int BatchSize = 50;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var applied = 0;
            try
            {
                applied = await ApplyPendingAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Applying callbacks failed; trying again shortly");
            }
            if (applied < BatchSize)
                await signal.WaitAsync(Poll, time, stoppingToken);
        }
    }

    internal async Task<int> ApplyPendingAsync(CancellationToken ct)
    {
        List<long> pending;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            pending = await db.ProviderCallbacks.Where(c => c.ProcessedAt == null)
                .OrderBy(c => c.Id).Select(c => c.Id).Take(BatchSize).ToListAsync(ct);
        }
        foreach (var id in pending)
            await ApplyAsync(id, ct);
        return pending.Count;
    }

    async Task ApplyAsync(long callbackId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var completion = scope.ServiceProvider.GetRequiredService<RequestCompletion>();
        var callback = await db.ProviderCallbacks.SingleAsync(c => c.Id == callbackId, ct);
        if (callback.ProcessedAt is not null)
            return;
        var job = await db.ProviderJobs.SingleAsync(j => j.Id == callback.ProviderJobId, ct);
        var requests = await db.Requests.Where(r => r.ProviderJobId == job.Id).ToDictionaryAsync(r => r.RequestId, ct);
        var applied = await db.Inbox.Where(i => i.Key.StartsWith(InboxPrefix(job))).Select(i => i.Key).ToHashSetAsync(ct);
        var now = time.GetUtcNow();

        using var doc = JsonDocument.Parse(callback.Body);
        var root = doc.RootElement;
        var status = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString() : null;
        var externalId = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("enrichment_id", out var e) ? e.GetString() : null;

        if (job.ExternalId is not null && externalId is not null && externalId != job.ExternalId)
        {
            // The token says one job, the body another: apply nothing from it.
            logger.LogWarning("Callback {CallbackId} names job {BodyJobId} but arrived on the URL of {ProviderJobId}; ignored",
                callback.Id, externalId, job.ExternalId);
        }
        else if (string.Equals(status, "failed", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var request in requests.Values)
                completion.Complete(request, new CompletionResult(Outcome.Failed, Detail: "Precept reported the job as failed."));
        }
        else
        {
            var items = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("results", out var r) && r.ValueKind == JsonValueKind.Array
                ? r.EnumerateArray().ToList() : [];
            foreach (var item in items)
            {
                if (PreceptResults.RequestIdOf(item) is not { } requestId || !requests.TryGetValue(requestId, out var request))
                {
                    logger.LogWarning("Callback {CallbackId} holds a result for no request of job {JobName}", callback.Id, job.Name);
                    continue;
                }
                var key = InboxPrefix(job) + requestId.ToString("N");
                if (!applied.Add(key))
                    continue; // this lead's result was applied from an earlier delivery
                db.Inbox.Add(new InboxEntry { Key = key, ProcessedAt = now });
                var fields = LedgerViews.ReadRequest(request).Fields ?? [];
                completion.Complete(request, PreceptResults.Normalize(item, fields));
            }

            // A completed job that left a lead out of its results skipped it.
            if (string.Equals(status, "completed", StringComparison.OrdinalIgnoreCase))
                foreach (var request in requests.Values.Where(q => q.State != RequestState.Completed))
                    completion.Complete(request, new CompletionResult(Outcome.NotFound, Detail: "Precept completed the job without a result for this lead (skipped)."));
        }

        callback.ProcessedAt = now;
        if (requests.Values.All(q => q.State == RequestState.Completed) && job.State != ProviderJobState.Completed)
        {
            job.State = ProviderJobState.Completed;
            job.CompletedAt = now;
        }
        await completion.SaveAsync(ct);
    }

    static string InboxPrefix(ProviderJobRecord job) => $"precept:{job.Id:N}:";
}
