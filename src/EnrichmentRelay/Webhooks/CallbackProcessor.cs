using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
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
    RelayMetrics metrics,
    ILogger<CallbackProcessor> logger) : DrainingBackgroundService
{
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    const int BatchSize = 50;

    protected override async Task RunAsync(CancellationToken stopping, CancellationToken working)
    {
        while (!stopping.IsCancellationRequested)
        {
            var applied = 0;
            try
            {
                applied = await ApplyPendingAsync(stopping, working);
            }
            catch (Exception ex) when (!working.IsCancellationRequested)
            {
                logger.LogError(ex, "Applying callbacks failed; trying again shortly");
            }
            if (applied < BatchSize)
                await signal.WaitAsync(Poll, time, stopping);
        }
    }

    internal Task<int> ApplyPendingAsync(CancellationToken ct) => ApplyPendingAsync(ct, ct);

    /// <summary>On a shutdown the callback being applied is finished and the rest wait, stored, for the next start.</summary>
    async Task<int> ApplyPendingAsync(CancellationToken stopping, CancellationToken ct)
    {
        List<long> pending;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            pending = await db.ProviderCallbacks.Where(c => c.ProcessedAt == null)
                .OrderBy(c => c.Id).Select(c => c.Id).Take(BatchSize).ToListAsync(ct);
        }
        var applied = 0;
        foreach (var id in pending.TakeWhile(_ => !stopping.IsCancellationRequested))
        {
            await ApplyAsync(id, ct);
            applied++;
        }
        return applied;
    }

    async Task ApplyAsync(long callbackId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var completion = scope.ServiceProvider.GetRequiredService<RequestCompletion>();
        // Another instance may be applying the same callback: it has it, this one moves on.
        await using var claim = await RowClaims.BeginAsync(db, ct);
        if ((await RowClaims.PendingCallback(db, callbackId).ToListAsync(ct)).SingleOrDefault() is not { } callback)
            return;
        var job = await db.ProviderJobs.SingleAsync(j => j.Id == callback.ProviderJobId, ct);
        using var jobScope = logger.BeginJobScope(job);
        // In the webhook call's trace; each request it completes gets a span in its own trace linked to this one.
        using var activity = RelayTracing.StartIn("apply precept callback", callback.TraceParent);
        activity?.SetTag("relay.job_name", job.Name);
        // Precept retries and may duplicate a callback: one for a job already complete changes nothing.
        var duplicate = job.State == ProviderJobState.Completed;
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
        if (claim is not null)
            await claim.CommitAsync(ct);
        if (duplicate)
            metrics.CallbackDuplicated(ProviderName.Precept);
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
            logger.LogWarning("Reconciled job {JobName} from its callback: Precept holds it as {ProviderJobId}", job.Name, id);
        }
        // Until the job ends, a status read carries no results: the final callback or the sweep brings them.
        return report.IsCompleted || report.IsFailed ? report : null;
    }
}
