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
/// The safety net behind the webhook: jobs whose callback is overdue are read with <c>GET /v1/jobs/{id}</c>
/// and completed from it (counted as rescued); jobs whose submit answer was lost are looked up by their
/// unique name and adopted, or sent again once Precept provably does not have them; and nothing stays
/// open past the deadline.
/// </summary>
public sealed class PreceptSweep(
    RelayDbContext db,
    RequestCompletion completion,
    PreceptClient client,
    PreceptJobReports reports,
    IOptions<PreceptOptions> options,
    TimeProvider time,
    RelayMetrics metrics,
    ILogger<PreceptSweep> logger)
{
    PreceptOptions Options => options.Value;

    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var overdue = now - Options.CallbackGrace;
        var orphaned = SubmitCalls.OrphanedBefore(now, Options.RequestTimeout);
        var jobs = await db.ProviderJobs
            .Where(j => j.Provider == ProviderName.Precept
                        && (j.State == ProviderJobState.SubmitUnknown
                            || (j.State == ProviderJobState.Submitting && j.CreatedAt <= orphaned)
                            || (j.State == ProviderJobState.Submitted && j.SubmittedAt <= overdue))
                        && (j.NextPollAt == null || j.NextPollAt <= now))
            .OrderBy(j => j.CreatedAt)
            .Take(200)
            .ToListAsync(ct);

        var rescued = 0;
        foreach (var job in jobs)
        {
            using var jobScope = logger.BeginJobScope(job);
            if (job.State == ProviderJobState.Submitting)
            {
                job.State = ProviderJobState.SubmitUnknown;
                logger.LogWarning("Job {JobName} was cut off before its submit's answer was recorded; reconciling it with Precept", job.Name);
            }
            var open = await db.Requests.Where(r => r.ProviderJobId == job.Id && r.State == RequestState.Submitted).ToListAsync(ct);
            job.NextPollAt = now + Options.SweepInterval;
            if (open.Count == 0)
            {
                job.State = ProviderJobState.Completed;
                job.CompletedAt ??= now;
                continue;
            }
            if (now - job.CreatedAt >= Options.Deadline)
            {
                foreach (var request in open)
                    completion.Complete(request, new CompletionResult(Outcome.TimedOut,
                        Detail: $"Precept had not finished this lead {Options.Deadline.TotalHours:0.#} h after it was submitted."));
                continue;
            }
            if (job.ExternalId is null && !await ReconcileAsync(job, open, now, ct))
                continue;

            using var read = await client.GetJobAsync(job.ExternalId!, ct);
            if (read is null)
                continue;
            var report = PreceptJobReport.Read(read.RootElement);
            if (report.IsCompleted || report.IsFailed)
            {
                var count = await reports.ApplyAsync(job, report, ct);
                if (count > 0)
                    logger.LogWarning("Rescued {Count} requests of Precept job {JobName}: its callback never came", count, job.Name);
                rescued += count;
            }
        }
        await completion.SaveAsync(ct);
        metrics.CallbacksRescued(ProviderName.Precept, rescued);
        return rescued;
    }

    /// <summary>Finds a lost submit by its unique job name; releases the leads when Precept provably has no such job.</summary>
    async Task<bool> ReconcileAsync(ProviderJobRecord job, List<EnrichmentRequestRecord> open, DateTimeOffset now, CancellationToken ct)
    {
        if (await client.FindJobIdByNameAsync(job.Name, ct) is { } id)
        {
            job.ExternalId = id;
            job.State = ProviderJobState.Submitted;
            job.SubmittedAt ??= now;
            logger.LogWarning("Reconciled job {JobName}: Precept holds it as {ProviderJobId}", job.Name, id);
            return true;
        }
        if (now - job.CreatedAt >= Options.ReconcileAfter)
        {
            job.State = ProviderJobState.Refused;
            job.LastError = "Not found at Precept after a submit whose answer was lost; its leads were queued again.";
            foreach (var request in open)
                request.ReturnToWaiting();
            logger.LogWarning("Job {JobName} never reached Precept; its {Count} leads will be submitted again", job.Name, open.Count);
        }
        return false;
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
