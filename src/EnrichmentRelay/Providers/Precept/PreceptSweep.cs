using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Polling;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// The safety net behind the webhook: jobs whose callback is overdue are read with <c>GET /v1/jobs/{id}</c> and
/// completed from it (counted as rescued); jobs whose submit answer was lost are looked for at Precept and adopted when
/// found, or, when Precept does not show them, parked for an operator (sending again on absence of evidence could
/// charge twice); and nothing stays open past the deadline.
/// </summary>
public sealed class PreceptSweep(
    RelayDbContext db,
    RequestCompletion completion,
    PreceptClient client,
    PreceptJobReports reports,
    PreceptJobFinder finder,
    ProviderPauses pauses,
    IOptions<PreceptOptions> options,
    TimeProvider time,
    RelayMetrics metrics,
    ILogger<PreceptSweep> logger)
{
    PreceptOptions Options => options.Value;

    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await TimeOutParkedAsync(now, ct);
        // A paused Precept (its key refused) is left alone until its next probe.
        if (pauses.Holds(ProviderName.Precept))
        {
            await completion.SaveAsync(ct);
            return 0;
        }

        var overdue = now - Options.CallbackGrace;
        var orphaned = now - SubmitCalls.OrphanWindow(Options.RequestTimeout);
        var jobs = await db.ProviderJobs
            .Where(j => j.Provider == ProviderName.Precept
                        && (j.State == ProviderJobState.SubmitUnknown
                            || (j.State == ProviderJobState.Submitting
                                && (j.SubmitStartedAt != null ? j.SubmitStartedAt <= orphaned : j.CreatedAt <= orphaned))
                            || (j.State == ProviderJobState.Submitted && j.SubmittedAt <= overdue))
                        && (j.NextPollAt == null || j.NextPollAt <= now))
            .OrderBy(j => j.CreatedAt)
            .Take(200)
            .ToListAsync(ct);

        var rescued = 0;
        foreach (var job in jobs)
        {
            using var jobScope = logger.BeginJobScope(job);
            var open = await db.Requests.Where(r => r.ProviderJobId == job.Id && r.State == RequestState.Submitted).ToListAsync(ct);
            job.NextPollAt = now + Options.SweepInterval;
            if (open.Count == 0)
            {
                job.State = ProviderJobState.Completed;
                job.CompletedAt ??= now;
                continue;
            }
            if (job.State == ProviderJobState.Submitting && !SubmitCalls.TakeOverOrphan(job, open, now, logger))
                continue;
            if (now - job.CreatedAt >= Options.Deadline)
            {
                TimeOut(open);
                continue;
            }
            try
            {
                rescued += await SweepJobAsync(job, open, now, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // One job's failing read leaves the others of the sweep to go on; it is read again next sweep.
                logger.LogWarning(ex, "Sweeping Precept job {JobName} failed; it is tried again next sweep", job.Name);
            }
        }
        await completion.SaveAsync(ct);
        metrics.CallbacksRescued(ProviderName.Precept, rescued);
        return rescued;
    }

    async Task<int> SweepJobAsync(ProviderJobRecord job, List<EnrichmentRequestRecord> open, DateTimeOffset now, CancellationToken ct)
    {
        if (job.ExternalId is null && !await ReconcileAsync(job, open, now, ct))
            return 0;
        using var read = await client.GetJobAsync(job.ExternalId!, ct);
        if (read is null)
            return 0;
        var report = PreceptJobReport.Read(read.RootElement);
        if (!report.IsCompleted && !report.IsFailed)
            return 0;
        var count = await reports.ApplyAsync(job, report, ct);
        if (count > 0)
            logger.LogWarning("Rescued {Count} requests of Precept job {JobName}: its callback never came", count, job.Name);
        return count;
    }

    /// <summary>
    /// Looks for a lost submit at Precept and adopts the job when found. Not found by <c>ReconcileAfter</c> after its
    /// POST left: parked as NeedsAttention for an operator (or, only with <c>ResendUnfoundSubmits</c>, queued again).
    /// </summary>
    async Task<bool> ReconcileAsync(ProviderJobRecord job, List<EnrichmentRequestRecord> open, DateTimeOffset now, CancellationToken ct)
    {
        if (await finder.FindAsync(job, SubmitCalls.OrphanWindow(Options.RequestTimeout), ct) is { } id)
        {
            job.ExternalId = id;
            job.State = ProviderJobState.Submitted;
            job.SubmittedAt ??= now;
            logger.LogWarning("Reconciled job {JobName}: Precept holds it as {ProviderJobId}", job.Name, id);
            return true;
        }
        if (now - job.SentAt < Options.ReconcileAfter)
            return false;
        if (Options.ResendUnfoundSubmits)
        {
            job.State = ProviderJobState.Refused;
            job.CompletedAt = now;
            job.LastError = "Not found at Precept after a submit whose answer was lost; its leads were queued again (ResendUnfoundSubmits).";
            foreach (var request in open)
                request.ReturnToWaiting();
            logger.LogWarning("Job {JobName} was not found at Precept; its {Count} leads will be submitted again (ResendUnfoundSubmits is on)",
                job.Name, open.Count);
            return false;
        }
        job.State = ProviderJobState.NeedsAttention;
        job.LastError = $"The submit's answer was lost and Precept did not show the job within {Options.ReconcileAfter}; " +
                        $"sending it again could charge twice. Resend or fail its requests: POST /admin/jobs/{job.Id}/resend or /fail.";
        logger.LogError("Job {JobName} needs attention: its submit's answer was lost and Precept does not show it; its {Count} requests wait " +
                        "for an operator (POST /admin/jobs/{JobId}/resend or /fail)", job.Name, open.Count, job.Id);
        return false;
    }

    /// <summary>Parked jobs wait for an operator, but not past the deadline.</summary>
    async Task TimeOutParkedAsync(DateTimeOffset now, CancellationToken ct)
    {
        var expired = now - Options.Deadline;
        var parked = await db.ProviderJobs.Where(j => j.Provider == ProviderName.Precept && j.State == ProviderJobState.NeedsAttention && j.CreatedAt <= expired)
            .Select(j => j.Id).ToListAsync(ct);
        if (parked.Count == 0)
            return;
        TimeOut(await db.Requests.Where(r => r.ProviderJobId != null && parked.Contains(r.ProviderJobId.Value) && r.State == RequestState.Submitted)
            .ToListAsync(ct));
    }

    void TimeOut(IEnumerable<EnrichmentRequestRecord> open)
    {
        foreach (var request in open)
            completion.Complete(request, new CompletionResult(Outcome.TimedOut,
                Detail: $"Precept had not finished this lead {Options.Deadline.TotalHours:0.#} h after it was submitted."));
    }
}

/// <summary>The scheduled consumer for the sweep: one per tick, whichever instance claims it.</summary>
public sealed class PollPreceptConsumer(RelayDbContext db, PreceptSweep sweep, TimeProvider time, RelayMetrics metrics,
    ILogger<PollPreceptConsumer> logger) : IConsumer<PollPrecept>
{
    public const string Schedule = "precept";

    public Task Consume(ConsumeContext<PollPrecept> context) =>
        PollTicks.RunOnceAsync(db, Schedule, context.Message.Tick, time, metrics, logger, sweep.SweepAsync, context.CancellationToken);
}

public sealed class PollPreceptConsumerDefinition : ConsumerDefinition<PollPreceptConsumer>
{
    public PollPreceptConsumerDefinition()
    {
        EndpointName = "poll-precept";
        ConcurrentMessageLimit = 1;
    }
}
