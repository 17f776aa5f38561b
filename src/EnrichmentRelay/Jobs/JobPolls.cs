using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// One poll of one provider, the same rules for every provider: the jobs that are due (read before, first read after
/// the provider's grace, or cut off before their answer was recorded), orphans taken over, the reader's reading, and
/// then each job applied in its own unit of work: a lost submit found or, once the provider has had its time, parked or
/// sent again by the provider's policy; results; the deadline's last word; the next read. A job whose reading or whose
/// apply fails is read again after a back-off, and after <see cref="JobsOptions.MaxReadFailures"/> failures in a row it becomes a
/// dead letter (replaying it reads it again): the other jobs of the poll go on.
/// </summary>
public sealed class JobPolls(
    IServiceScopeFactory scopes,
    ProviderPauses pauses,
    IOptions<JobsOptions> options,
    TimeProvider time,
    ILogger<JobPolls> logger)
{
    const int MaxJobsPerPoll = 500;
    public const string RetryQueue = "provider-job-retry";

    public async Task PollAsync(IJobReader reader, CancellationToken ct)
    {
        await TimeOutParkedAsync(reader, ct);
        // A paused provider (its key refused) rests until its next probe; this poll may be that probe.
        if (pauses.Holds(reader.Provider))
            return;

        var jobs = await DueJobsAsync(reader, ct);
        if (jobs.Count == 0)
            return;
        IReadOnlyList<JobReading> readings;
        IReadOnlyList<CapturedAnswer> answers;
        using (ProviderAnswers.Capture(out answers))
        {
            try
            {
                readings = await reader.ReadAsync(jobs, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // The reader failed as a whole (a shared read): every job of this poll is read again after a back-off.
                readings = jobs.Select(j => new JobReading(j.Id) { Error = $"{ex.GetType().Name}: {ex.Message}" }).ToList();
            }
        }
        var captured = ProviderAnswers.Snapshot(answers);
        await InScopeAsync(async unit =>
        {
            AnswerLog.Add(unit.Db, captured.Where(a => a.JobId is null), jobs.Select(j => j.Id).ToList());
            await unit.Db.SaveChangesAsync(ct);
        });

        var byJob = readings.ToDictionary(r => r.JobId);
        foreach (var job in jobs)
        {
            var reading = byJob.GetValueOrDefault(job.Id) ?? new JobReading(job.Id);
            var own = captured.Where(a => a.JobId == job.Id).ToList();
            if (reading.Error is { } error)
            {
                await FailedAsync(job, error, reader.Policy, own, ct);
                continue;
            }
            var ended = false;
            try
            {
                await InScopeAsync(async unit => ended = await ApplyAsync(unit, reader, job, reading, own, ct));
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                await FailedAsync(job, $"{ex.GetType().Name}: {ex.Message}", reader.Policy, own, ct);
            }
            if (ended)
                await JobEndedAsync(job.Id, ct);
        }
    }

    /// <summary>The provider's due jobs as its reader sees them, orphans taken over first.</summary>
    async Task<List<OpenJob>> DueJobsAsync(IJobReader reader, CancellationToken ct)
    {
        var policy = reader.Policy;
        var now = time.GetUtcNow();
        var orphaned = now - SubmitCalls.OrphanWindow(policy.RequestTimeout);
        var firstRead = now - policy.FirstReadAfter;
        var provider = reader.Provider;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var jobs = await db.ProviderJobs.AsNoTracking()
            .Where(j => j.Provider == provider
                        && (j.State == ProviderJobState.SubmitUnknown
                            || (j.State == ProviderJobState.Submitting
                                && (j.SubmitStartedAt != null ? j.SubmitStartedAt <= orphaned : j.CreatedAt <= orphaned))
                            || (j.State == ProviderJobState.Submitted && j.SubmittedAt <= firstRead))
                        && (j.NextPollAt == null || j.NextPollAt <= now))
            .OrderBy(j => j.NextPollAt)
            .Take(MaxJobsPerPoll)
            .ToListAsync(ct);

        var due = new List<OpenJob>();
        foreach (var job in jobs)
        {
            if (job.State == ProviderJobState.Submitting && !await TakeOverAsync(job.Id, ct))
                continue;
            var leads = await db.Requests.AsNoTracking()
                .Where(r => r.ProviderJobId == job.Id && r.State == RequestState.Submitted)
                .Select(r => new { r.RequestId, r.RequestJson, r.ProviderState, r.SubmittedAt, r.AcceptedAt })
                .ToListAsync(ct);
            var state = job.State == ProviderJobState.Submitting ? ProviderJobState.SubmitUnknown : job.State;
            due.Add(new OpenJob(job.Id, job.Name, job.Lane, job.ExternalId, job.SubmitAnswer, job.CreatedAt, job.SentAt, job.SubmittedAt,
                FateUnknown: state == ProviderJobState.SubmitUnknown,
                PastDeadline: now - job.CreatedAt >= policy.Deadline,
                leads.Select(l => new OpenLead(l.RequestId, LedgerViews.ReadRequest(l.RequestJson), l.ProviderState, l.SubmittedAt ?? l.AcceptedAt)).ToList()));
        }
        return due;
    }

    /// <summary>An orphan (still Submitting past the window): its POST never left, so its leads go back in line; or it did, and its fate is unknown.</summary>
    async Task<bool> TakeOverAsync(Guid jobId, CancellationToken ct)
    {
        var open = false;
        await InScopeAsync(async unit =>
        {
            var job = await unit.Db.ProviderJobs.SingleAsync(j => j.Id == jobId, ct);
            var work = await unit.Results.OpenAsync(job, ct);
            open = JobRules.TakeOverOrphan(unit.Db, work, time.GetUtcNow(), logger);
            await unit.Completion.SaveAsync(ct);
        });
        return open;
    }

    /// <returns>Whether the job ended.</returns>
    async Task<bool> ApplyAsync(Unit unit, IJobReader reader, OpenJob seen, JobReading reading, IEnumerable<CapturedAnswer> answers, CancellationToken ct)
    {
        var policy = reader.Policy;
        var now = time.GetUtcNow();
        var db = unit.Db;
        var job = await db.ProviderJobs.SingleAsync(j => j.Id == seen.Id, ct);
        var wasOpen = !HasEnded(job);
        AnswerLog.Add(db, answers, [job.Id]);
        using var jobScope = logger.BeginJobScope(job);
        var results = unit.Results;
        var work = await results.OpenAsync(job, ct);
        var completed = await results.ApplyAsync(work, reading, ct);
        if (completed > 0)
            reader.Completed(seen, completed);

        if (reading.FoundAs is { } found && seen.FateUnknown)
            logger.LogWarning("Reconciled job {JobName}: {Provider} holds it as {ProviderJobId}", job.Name, job.Provider, found);
        else if (reading.NotFound && job.State == ProviderJobState.SubmitUnknown && now - job.SentAt >= policy.ReconcileAfter)
            JobRules.Unfound(db, work, policy, now, logger);

        // The deadline's last word: what the reader did not end by then ends timed out.
        if (seen.PastDeadline)
            foreach (var request in work.Open.ToList())
                results.Complete(work, request.RequestId, new LeadResult(Outcome.TimedOut,
                    Detail: $"{job.Provider} had not finished this lead {policy.Deadline.TotalHours:0.#} h after it was submitted."));
        results.EndIfDone(work);
        job.ReadFailures = 0;
        job.NextPollAt = now + policy.NextReadIn(now - job.CreatedAt);
        await unit.Completion.SaveAsync(ct);
        return wasOpen && HasEnded(job);
    }

    static bool HasEnded(ProviderJobRecord job) => job.State is ProviderJobState.Completed or ProviderJobState.Refused;

    /// <summary>Tells the <see cref="IJobEndedHandler"/>s, after the job's unit of work committed.</summary>
    async Task JobEndedAsync(Guid jobId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        foreach (var handler in scope.ServiceProvider.GetServices<IJobEndedHandler>())
        {
            try
            {
                await handler.JobEndedAsync(jobId, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogError(ex, "{Handler} failed on the end of job {JobId}", handler.GetType().Name, jobId);
            }
        }
    }

    /// <summary>Parked jobs wait for an operator, but not past the deadline.</summary>
    async Task TimeOutParkedAsync(IJobReader reader, CancellationToken ct)
    {
        var policy = reader.Policy;
        var expired = time.GetUtcNow() - policy.Deadline;
        var provider = reader.Provider;
        List<Guid> parked;
        await using (var scope = scopes.CreateAsyncScope())
            parked = await scope.ServiceProvider.GetRequiredService<RelayDbContext>().ProviderJobs
                .Where(j => j.Provider == provider && j.State == ProviderJobState.NeedsAttention && j.CreatedAt <= expired)
                .Select(j => j.Id).ToListAsync(ct);
        foreach (var id in parked)
        {
            await InScopeAsync(async unit =>
            {
                var results = unit.Results;
                var work = await results.OpenAsync(await unit.Db.ProviderJobs.SingleAsync(j => j.Id == id, ct), ct);
                foreach (var request in work.Open.ToList())
                    results.Complete(work, request.RequestId, new LeadResult(Outcome.TimedOut,
                        Detail: $"{provider} had not finished this lead {policy.Deadline.TotalHours:0.#} h after it was submitted " +
                                "(its submit's answer was lost and nobody resent or failed it)."));
                results.EndIfDone(work);
                await unit.Completion.SaveAsync(ct);
            });
            await JobEndedAsync(id, ct);
        }
    }

    /// <summary>One more failed read of the job: read again after a back-off; too many in a row, a dead letter.</summary>
    async Task FailedAsync(OpenJob seen, string error, PollPolicy policy, IReadOnlyList<CapturedAnswer> answers, CancellationToken ct)
    {
        try
        {
            await InScopeAsync(async unit =>
            {
                var db = unit.Db;
                var job = await db.ProviderJobs.SingleAsync(j => j.Id == seen.Id, ct);
                var now = time.GetUtcNow();
                AnswerLog.Add(db, answers, [job.Id]);
                job.ReadFailures++;
                job.LastError = error;
                job.NextPollAt = now + options.Value.BackOff(policy.Interval, job.ReadFailures);
                if (job.ReadFailures >= options.Value.MaxReadFailures)
                {
                    // Left alone until an operator replays the dead letter, which reads it again.
                    job.NextPollAt = now + TimeSpan.FromDays(36_500);
                    db.DeadLetters.Add(JobDeadLetters.For(job, $"{job.ReadFailures} reads in a row failed, the last with: {error}", now));
                    logger.LogError("Job {JobName} of {Provider} failed {Count} reads in a row ({Error}); it is a dead letter until replayed",
                        job.Name, job.Provider, job.ReadFailures, error);
                }
                else
                    logger.LogWarning("Reading job {JobName} of {Provider} failed ({Error}); read again in {Wait}", job.Name, job.Provider, error,
                        job.NextPollAt - now);
                await db.SaveChangesAsync(ct);
            });
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogError(ex, "Recording the failed read of job {JobId} failed; the next tick reads it again", seen.Id);
        }
    }

    /// <summary>A unit of work: its own scope, so one job's failure or stale copy leaves nothing behind for the next.</summary>
    sealed record Unit(RelayDbContext Db, JobResults Results, RequestCompletion Completion);

    async Task InScopeAsync(Func<Unit, Task> work)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        await work(new Unit(services.GetRequiredService<RelayDbContext>(), services.GetRequiredService<JobResults>(),
            services.GetRequiredService<RequestCompletion>()));
    }
}


/// <summary>Read a job again now: what a replayed job dead letter sends (raw JSON on <see cref="JobPolls.RetryQueue"/>).</summary>
[MessageUrn(ExchangeName)]
[EntityName(ExchangeName)]
[FaultEntityName("MassTransit:Fault--" + ExchangeName + "--")]
public sealed record RetryProviderJob(Guid JobId)
{
    // Pinned, like every name on the broker: moving the type never moves its exchange.
    public const string ExchangeName = "EnrichmentRelay.Jobs:RetryProviderJob";
}


/// <summary>A job given up on after too many failures in a row, as a dead letter: replaying it reads the job again.</summary>
public static class JobDeadLetters
{
    public static DeadLetterRecord For(ProviderJobRecord job, string why, DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid(),
        Queue = JobPolls.RetryQueue,
        ContentType = "application/json",
        Body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new RetryProviderJob(job.Id), Serialization.RelayJson.Options)),
        HeadersJson = "{}",
        ExceptionType = "JobFailed",
        Reason = $"Job {job.Name} of {job.Provider}: {why}",
        FaultedAt = now,
    };
}
