using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers.Precept;
using Microsoft.Extensions.Options;
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
        List<(long Id, Guid JobId)> pending;
        bool verify;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            pending = (await db.ProviderCallbacks.Where(c => c.ProcessedAt == null)
                .OrderBy(c => c.Id).Select(c => new { c.Id, c.ProviderJobId }).Take(BatchSize).ToListAsync(ct))
                .Select(c => (c.Id, c.ProviderJobId)).ToList();
            verify = scope.ServiceProvider.GetRequiredService<IOptions<PreceptOptions>>().Value.VerifyCallbacks;
        }
        if (verify)
        {
            // What gets applied is the job as Precept reports it, not the callback: one read and one transaction
            // answer every pending callback of a job (a streamed job sends one per lead).
            foreach (var job in pending.GroupBy(p => p.JobId))
                await ApplyVerifiedAsync(job.Key, job.Select(p => p.Id).ToList(), ct);
        }
        else
        {
            foreach (var (id, _) in pending)
                await ApplyAsync(id, ct);
        }
        return pending.Count;
    }

    async Task ApplyVerifiedAsync(Guid jobId, List<long> callbackIds, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var completion = scope.ServiceProvider.GetRequiredService<RequestCompletion>();
        var callbacks = await db.ProviderCallbacks.Where(c => callbackIds.Contains(c.Id) && c.ProcessedAt == null).OrderBy(c => c.Id).ToListAsync(ct);
        if (callbacks.Count == 0)
            return;
        var job = await db.ProviderJobs.SingleAsync(j => j.Id == jobId, ct);
        PreceptJobReport? hint = null;
        foreach (var callback in callbacks)
        {
            using var doc = JsonDocument.Parse(callback.Body);
            var report = PreceptJobReport.Read(doc.RootElement);
            if (job.ExternalId is not null && report.EnrichmentId is not null && report.EnrichmentId != job.ExternalId)
                logger.LogWarning("Callback {CallbackId} names job {BodyJobId} but arrived on the URL of {ProviderJobId}; ignored",
                    callback.Id, report.EnrichmentId, job.ExternalId);
            else
                hint ??= report;
            callback.ProcessedAt = time.GetUtcNow();
        }
        if (hint is not null && await TrustedAsync(scope.ServiceProvider, job, hint, ct) is { } trusted)
            await scope.ServiceProvider.GetRequiredService<PreceptJobReports>().ApplyAsync(job, trusted, ct);
        await completion.SaveAsync(ct);
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
        using var doc = JsonDocument.Parse(callback.Body);
        var report = PreceptJobReport.Read(doc.RootElement);

        if (job.ExternalId is not null && report.EnrichmentId is not null && report.EnrichmentId != job.ExternalId)
        {
            // The token says one job, the body another: apply nothing from it.
            logger.LogWarning("Callback {CallbackId} names job {BodyJobId} but arrived on the URL of {ProviderJobId}; ignored",
                callback.Id, report.EnrichmentId, job.ExternalId);
        }
        else if (await TrustedAsync(scope.ServiceProvider, job, report, ct) is { } trusted)
        {
            await scope.ServiceProvider.GetRequiredService<PreceptJobReports>().ApplyAsync(job, trusted, ct);
        }

        callback.ProcessedAt = time.GetUtcNow();
        await completion.SaveAsync(ct);
    }

    /// <summary>
    /// Precept's callbacks are unsigned, so by default a callback is only a hint: the job is read back with
    /// our own key and its answer is what gets applied. Null when there is nothing to trust yet.
    /// </summary>
    async Task<PreceptJobReport?> TrustedAsync(IServiceProvider services, ProviderJobRecord job, PreceptJobReport hint, CancellationToken ct)
    {
        if (!services.GetRequiredService<IOptions<PreceptOptions>>().Value.VerifyCallbacks)
            return hint;
        var id = job.ExternalId ?? hint.EnrichmentId;
        if (id is null)
            return null;
        using var read = await services.GetRequiredService<PreceptClient>().GetJobAsync(id, ct);
        if (read is null)
        {
            logger.LogWarning("Callback for job {JobName} names Precept job {BodyJobId}, which Precept does not know; ignored", job.Name, id);
            return null;
        }
        var report = PreceptJobReport.Read(read.RootElement);
        if (job.ExternalId is null)
        {
            // The submit's answer never arrived: adopt the job only if Precept holds it under our unique name.
            if (report.Name != job.Name)
            {
                logger.LogWarning("Callback for job {JobName} names a Precept job with another name; ignored", job.Name);
                return null;
            }
            job.ExternalId = id;
            job.State = ProviderJobState.Submitted;
        }
        // Until the job ends, a status read carries no results: the final callback or the sweep brings them.
        return report.IsCompleted || report.IsFailed ? report : null;
    }
}
