using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Precept;
using Microsoft.Extensions.Options;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Webhooks;

/// <summary>
/// Applies stored Precept callbacks to their requests. A job's pending callbacks are applied in one transaction
/// (terminal states, outbox rows, the callbacks marked processed), so a crash re-applies them whole, and
/// duplicates or retries change nothing: a lead's result completes its request, which is terminal from then on.
/// Callbacks that change nothing (a running job's, verified) are marked processed together at the end of each round;
/// a crash before that only verifies them again.
/// </summary>
public sealed class CallbackProcessor(
    IServiceScopeFactory scopes,
    CallbackSignal signal,
    ICrossInstanceLock instances,
    IOptions<JobsOptions> jobOptions,
    TimeProvider time,
    RelayMetrics metrics,
    ILogger<CallbackProcessor> logger) : DrainingBackgroundService
{
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    const int BatchSize = 50;
    /// <summary>The most callbacks of one job applied together: bounds one transaction when a streamed job piled many up.</summary>
    const int MaxPerJob = 1_000;

    /// <summary>
    /// How long a verification read that found a job still running answers the job's next callbacks that do not say it
    /// ended: such a callback changes nothing once verified (a running job's read carries no results), so reading the
    /// job again for each of a streamed job's callbacks would only cost Precept reads. A callback that says the job
    /// ended is always verified by a read of its own.
    /// </summary>
    internal static readonly TimeSpan RunningReadFreshFor = TimeSpan.FromSeconds(1);

    // Jobs a verification read found still running, and when; only this service's loop touches it.
    readonly Dictionary<Guid, DateTimeOffset> seenRunning = [];

    // Jobs whose callbacks failed to apply: how often in a row, and not before when they are tried again.
    readonly Dictionary<Guid, (int Failures, DateTimeOffset NotBefore)> backoff = [];

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

    /// <summary>On a shutdown the job being applied is finished and the rest wait, stored, for the next start.</summary>
    async Task<int> ApplyPendingAsync(CancellationToken stopping, CancellationToken ct)
    {
        List<(long Id, Guid JobId)> pending;
        var applied = 0;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            // The callbacks of a job that is backing off are not the head of the line: they would hold up the others.
            var waiting = backoff.Where(b => b.Value.NotBefore > time.GetUtcNow()).Select(b => b.Key).ToList();
            var next = await db.ProviderCallbacks.Where(c => c.ProcessedAt == null && !waiting.Contains(c.ProviderJobId))
                .OrderBy(c => c.Id).Take(BatchSize)
                .Select(c => new { c.Id, c.ProviderJobId, JobDone = db.ProviderJobs.Any(j => j.Id == c.ProviderJobId && j.State == ProviderJobState.Completed) })
                .ToListAsync(ct);
            // Precept retries and may duplicate a callback: those for a job already complete change nothing, so they
            // are recorded as processed together, in one statement, without reading the job back.
            var duplicates = next.Where(c => c.JobDone).Select(c => c.Id).ToList();
            if (duplicates.Count > 0)
            {
                metrics.CallbacksDuplicated(ProviderName.Precept, await MarkProcessedAsync(db, duplicates, ct));
                applied += duplicates.Count;
            }
            pending = next.Where(c => !c.JobDone).Select(c => (c.Id, c.ProviderJobId)).ToList();
        }
        ForgetStaleRunningReads();
        // One transaction per job for all its pending callbacks (a streamed job sends one per lead), those behind the
        // head of the line included. A job whose callbacks cannot be applied (its verification read fails, ...) waits
        // with a back-off; the other jobs go on. Callbacks that change nothing are recorded together at the end.
        var unchanged = new UnchangedCallbacks();
        foreach (var job in pending.GroupBy(p => p.JobId).TakeWhile(_ => !stopping.IsCancellationRequested))
        {
            try
            {
                applied += await ApplyJobAsync(job.Key, unchanged, ct);
                backoff.Remove(job.Key);
            }
            catch (JobChangedMeanwhileException)
            {
                // Not a failure: its callbacks stay pending and are applied on the next round, to the job as it is now,
                // which starts at once: waiting for the poll held a job's last callback up to a second, with nothing
                // else to wake the loop.
                signal.Pulse();
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                applied += await FailedAsync(job.Key, ex, ct);
            }
        }
        if (unchanged.Callbacks.Count > 0)
            applied += await RecordUnchangedAsync(unchanged, ct);
        return applied;
    }

    /// <summary>
    /// Callbacks a round found to change nothing (those of a running job, verified), with the verification reads that
    /// showed it: marked processed together at the end of the round, in one transaction for all their jobs. Each job's
    /// own transaction would cost a commit, an fsync, per job and round, taken from the webhook's acknowledgements.
    /// </summary>
    sealed class UnchangedCallbacks
    {
        /// <summary>Each callback, and whether its body repeats one before it of the same job (a delivery sent twice).</summary>
        public List<(Guid JobId, long Id, bool Repeat)> Callbacks { get; } = [];
        public List<(Guid JobId, IReadOnlyList<CapturedAnswer> Answers)> Reads { get; } = [];
    }

    /// <returns>How many of the callbacks were recorded: those no other instance recorded first.</returns>
    async Task<int> RecordUnchangedAsync(UnchangedCallbacks unchanged, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var claimed = await ClaimAsync(db, unchanged.Callbacks.Select(c => c.Id).ToArray(), ct);
        if (claimed.Count == 0)
            return 0;
        await MarkProcessedAsync(db, claimed, ct);
        var recorded = unchanged.Callbacks.Where(c => claimed.Contains(c.Id)).ToList();
        var jobs = recorded.Select(c => c.JobId).ToHashSet();
        foreach (var (jobId, answers) in unchanged.Reads.Where(r => jobs.Contains(r.JobId)))
            AnswerLog.Add(db, answers, [jobId]);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        metrics.CallbacksDuplicated(ProviderName.Precept, recorded.Count(c => c.Repeat));
        return claimed.Count;
    }

    /// <summary>
    /// Those of the callbacks still pending that no other instance holds, locked for the caller's transaction on
    /// PostgreSQL (<see cref="RowClaims.PendingCallbacks"/>), and counted as claimed and passed over.
    /// </summary>
    async Task<HashSet<long>> ClaimAsync(RelayDbContext db, long[] ids, CancellationToken ct)
    {
        var claimed = (await RowClaims.PendingCallbacks(db, ids).ToListAsync(ct)).ToHashSet();
        metrics.RowsClaimed("callbacks", claimed.Count, await RowClaims.PassedOverAsync(db, RowClaims.Pending(db, ids), claimed.Count, ids.Length, ct));
        return claimed;
    }

    /// <summary>Marks these callbacks processed, in one statement; returns how many were still pending.</summary>
    Task<int> MarkProcessedAsync(RelayDbContext db, IEnumerable<long> callbacks, CancellationToken ct)
    {
        var ids = callbacks.ToArray();
        var at = time.GetUtcNow();
        return db.ProviderCallbacks.Where(c => ids.Contains(c.Id) && c.ProcessedAt == null).MarkProcessedAsync(db, at, ct);
    }

    /// <summary>
    /// A job whose callbacks failed to apply: tried again after a back-off; after <see cref="JobsOptions.MaxReadFailures"/>
    /// failures in a row its callbacks are set aside (marked processed: the sweep reads the job from Precept anyway) and the
    /// job becomes a dead letter, which a replay reads again. Returns how many callbacks were set aside.
    /// </summary>
    async Task<int> FailedAsync(Guid jobId, Exception ex, CancellationToken ct)
    {
        var failures = backoff.TryGetValue(jobId, out var was) ? was.Failures + 1 : 1;
        var now = time.GetUtcNow();
        var wait = jobOptions.Value.BackOff(jobOptions.Value.FirstBackOff, failures);
        backoff[jobId] = (failures, now + wait);
        var error = $"{ex.GetType().Name}: {ex.Message}";
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        await db.ProviderJobs.Where(j => j.Id == jobId).ExecuteUpdateAsync(set => set
            .SetProperty(j => j.ReadFailures, j => j.ReadFailures + 1).SetProperty(j => j.LastError, "Applying its callbacks failed: " + error)
            .SetProperty(j => j.Version, j => j.Version + 1), ct);
        if (failures < jobOptions.Value.MaxReadFailures)
        {
            logger.LogWarning(ex, "Applying the callbacks of job {JobId} failed ({Failures} in a row); tried again in {Wait}", jobId, failures, wait);
            return 0;
        }
        backoff.Remove(jobId);
        var setAside = await db.ProviderCallbacks.Where(c => c.ProviderJobId == jobId && c.ProcessedAt == null).MarkProcessedAsync(db, now, ct);
        var job = await db.ProviderJobs.AsNoTracking().SingleAsync(j => j.Id == jobId, ct);
        db.DeadLetters.Add(JobDeadLetters.For(job, $"{failures} attempts in a row to apply its callbacks failed, the last with: {error}", now));
        await db.SaveChangesAsync(ct);
        logger.LogError(ex, "The callbacks of job {JobName} failed {Failures} times in a row; set aside, the job is a dead letter until replayed",
            job.Name, failures);
        return setAside;
    }

    /// <returns>How many of the job's pending callbacks this instance applied (none when another instance already had them).</returns>
    /// <param name="unchanged">Where callbacks that change nothing are left, recorded at the end of the round.</param>
    async Task<int> ApplyJobAsync(Guid jobId, UnchangedCallbacks unchanged, CancellationToken ct)
    {
        // One instance at a time works on a job's callbacks: the others pass the job over for this round instead of
        // reading its bodies, reading it back from Precept and opening its requests, only to find them claimed at the end.
        await using var applying = await instances.TryTakeAsync(LockKey(jobId), ct);
        if (applying is null)
            return 0;
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var db = services.GetRequiredService<RelayDbContext>();
        var results = services.GetRequiredService<JobResults>();

        // 1. What to apply, read without holding any lock: the verification read may take seconds.
        var bodies = await PendingOfJob(db, jobId).ToListAsync(ct);
        if (bodies.Count == 0)
            return 0;
        // Callbacks whose body repeats an earlier one of the job (a delivery Precept retried or sent twice, both waiting
        // when the round began): counted as duplicates.
        var seenBodies = new HashSet<string>();
        var repeats = bodies.Where(b => !seenBodies.Add(b.Body)).Select(b => b.Id).ToHashSet();
        var job = await db.ProviderJobs.SingleAsync(j => j.Id == jobId, ct);
        // The job's requests and attempts (100 of each for a full job) are read only when something needs them: a
        // running job's callbacks, verified, apply nothing.
        JobResults.JobWork? opened = null;
        async Task<JobResults.JobWork> Work() => opened ??= await results.OpenAsync(job, ct);
        using var jobScope = logger.BeginJobScope(job);
        // In the (first) webhook call's trace; each request it completes gets a span in its own trace linked to this one.
        using var activity = RelayTracing.StartIn("apply precept callback", bodies[0].TraceParent);
        activity?.SetTag("relay.job_name", job.Name);

        // Verified (the default): what gets applied is the job as Precept reports it, not the callbacks, so one read
        // answers them all, and of a callback only what it says of the job counts. Otherwise each callback's own report,
        // in the order they came.
        var precept = services.GetRequiredService<IOptions<PreceptOptions>>().Value;
        var reports = new List<PreceptJobReport>();
        foreach (var callback in bodies)
        {
            var report = precept.VerifyCallbacks ? PreceptJobReport.ReadJob(callback.Body) : PreceptJobReport.Read(callback.Body);
            // The token says one job, the body another: apply nothing from it.
            if (job.ExternalId is not null && report.EnrichmentId is not null && report.EnrichmentId != job.ExternalId)
                logger.LogWarning("Callback {CallbackId} names job {BodyJobId} but arrived on the URL of {ProviderJobId}; ignored",
                    callback.Id, report.EnrichmentId, job.ExternalId);
            else
                reports.Add(report);
        }
        var unverified = precept.VerifyCallbacks ? null : (await Work()).View();
        IReadOnlyList<CapturedAnswer> answers;
        List<JobReading> readings;
        using (ProviderAnswers.Capture(out answers))
            readings = unverified is not null
                ? reports.Select(r => PreceptTranslation.Reading(unverified, r, logger, precept.PhoneFormat)).ToList()
                : reports.Count == 0 ? []
                : SeenRunningJustNow(job, reports) ? [new JobReading(job.Id) { FoundAs = job.ExternalId }]
                : await VerifiedAsync(services, job, async () => (await Work()).View(), reports[0], ct) is { } verified ? [verified] : [];

        if (opened is null && job.State != ProviderJobState.Completed && !readings.Any(r => ChangesAnything(job, r)))
        {
            // Not their bodies: a round's jobs could hold a thousand of 32 KB each.
            unchanged.Callbacks.AddRange(bodies.Select(b => (job.Id, b.Id, Repeat: repeats.Contains(b.Id))));
            unchanged.Reads.Add((job.Id, ProviderAnswers.Snapshot(answers)));
            return 0;
        }

        // 2. Claimed and applied in one short transaction: callbacks another instance applied meanwhile are skipped (on
        //    PostgreSQL; SQLite runs one instance). A job already complete changes nothing: its callbacks were duplicates.
        await using var claim = await RowClaims.BeginAsync(db, ct);
        var claimed = await ClaimAsync(db, bodies.Select(b => b.Id).ToArray(), ct);
        if (claimed.Count == 0)
            return 0;
        // Duplicates: callbacks for a job already complete, and repeats of a body applied with it in the same round.
        var duplicates = job.State == ProviderJobState.Completed ? claimed.Count : claimed.Count(repeats.Contains);
        AnswerLog.Add(db, ProviderAnswers.Snapshot(answers), [job.Id]);
        // Requests are tracked across readings, so a lead a later one repeats is already complete and left alone.
        foreach (var reading in readings)
            await results.ApplyAsync(await Work(), reading, ct);
        // The callbacks are marked processed, in one statement, in the transaction that saves what they changed (on
        // SQLite one of its own, begun only now: it takes the database's write lock).
        await using var own = claim is null ? await db.Database.BeginTransactionAsync(ct) : null;
        await MarkProcessedAsync(db, claimed, ct);
        await services.GetRequiredService<RequestCompletion>().SaveAsync(ct); // commits the claim, or SQLite's own
        metrics.CallbacksDuplicated(ProviderName.Precept, duplicates);
        return claimed.Count;
    }

    internal sealed record PendingCallback(long Id, string Body, string? TraceParent);

    /// <summary>A job's pending callbacks, oldest first, at most <see cref="MaxPerJob"/> (on PostgreSQL through the index <c>IX_provider_callbacks_PendingOfJob</c>).</summary>
    internal static IQueryable<PendingCallback> PendingOfJob(RelayDbContext db, Guid jobId) =>
        db.ProviderCallbacks.AsNoTracking()
            .Where(c => c.ProviderJobId == jobId && c.ProcessedAt == null)
            .OrderBy(c => c.Id)
            .Take(MaxPerJob)
            .Select(c => new PendingCallback(c.Id, c.Body, c.TraceParent));

    /// <summary>The cross-instance lock of a job's callbacks: the job id's 128 bits folded to 64.</summary>
    static long LockKey(Guid jobId)
    {
        Span<byte> bytes = stackalloc byte[16];
        jobId.TryWriteBytes(bytes);
        return BitConverter.ToInt64(bytes) ^ BitConverter.ToInt64(bytes[8..]);
    }

    /// <summary>
    /// False for a reading that only says the job is what the ledger holds (the verified read of a running job): applying
    /// it would only look for the job's end, which no callback brings before its results, so its callbacks need not
    /// read the job's requests, nor a transaction of their own.
    /// </summary>
    static bool ChangesAnything(ProviderJobRecord job, JobReading reading) =>
        reading.FoundAs != job.ExternalId || reading.NotFound || reading.Completed.Count > 0 || reading.ProviderStates.Count > 0
        || reading.JobCredits is not null || reading.Error is not null;

    /// <summary>
    /// Precept's callbacks are unsigned, so by default a callback is only a hint: the job is read back with our own key
    /// and its answer is what gets applied. Null when there is nothing to trust yet.
    /// </summary>
    /// <param name="view">The job with its leads, read when the answer needs them.</param>
    async Task<JobReading?> VerifiedAsync(IServiceProvider services, ProviderJobRecord job, Func<Task<OpenJob>> view, PreceptJobReport hint,
        CancellationToken ct)
    {
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
            // The submit's answer never arrived: adopt the job only on evidence that it is this one (its name, or our
            // leads in its results) and that no other job of ours holds it.
            var taken = await services.GetRequiredService<IJobDirectory>().HoldsAsync(ProviderName.Precept, id, ct);
            // The holder may be this very job: its submit's answer was recorded after the job was read here.
            if (taken && await services.GetRequiredService<RelayDbContext>().ProviderJobs.AnyAsync(j => j.Id == job.Id && j.ExternalId == id, ct))
                throw new JobChangedMeanwhileException();
            if (taken || PreceptResultMatcher.IsJobOf(report, await view()) != true)
            {
                logger.LogWarning("Callback for job {JobName} names a Precept job that cannot be shown to be this one; ignored for now", job.Name);
                return null;
            }
            logger.LogWarning("Reconciled job {JobName} from its callback: Precept holds it as {ProviderJobId}", job.Name, id);
        }
        // Until the job ends, a status read carries no results: the final callback or the sweep brings them.
        if (report.IsCompleted || report.IsFailed)
            return PreceptTranslation.Reading(await view(), report, logger,
                services.GetRequiredService<IOptions<PreceptOptions>>().Value.PhoneFormat) with { FoundAs = id };
        if (job.ExternalId == id)
            seenRunning[job.Id] = time.GetUtcNow();
        return new JobReading(job.Id) { FoundAs = id };
    }

    /// <summary>
    /// True when none of the callbacks says the job ended and a read within <see cref="RunningReadFreshFor"/> found
    /// this job, under the id it has in the ledger, still running: that read answers them (see
    /// <see cref="RunningReadFreshFor"/>).
    /// </summary>
    bool SeenRunningJustNow(ProviderJobRecord job, IReadOnlyList<PreceptJobReport> reports) =>
        job.ExternalId is not null
        && !reports.Any(r => r.IsCompleted || r.IsFailed)
        && seenRunning.TryGetValue(job.Id, out var readAt)
        && time.GetUtcNow() - readAt < RunningReadFreshFor;

    void ForgetStaleRunningReads()
    {
        var now = time.GetUtcNow();
        foreach (var (jobId, readAt) in seenRunning)
            if (now - readAt >= RunningReadFreshFor)
                seenRunning.Remove(jobId);
    }
}

/// <summary>The job changed in the ledger while its callbacks were being applied: they are applied again, to the job as it is now.</summary>
sealed class JobChangedMeanwhileException : Exception;
