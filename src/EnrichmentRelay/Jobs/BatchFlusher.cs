using EnrichmentRelay.Budgets;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// Packs accepted requests into full provider calls: a batch goes when it is full or when the request longest in line
/// for that provider has waited the provider's flush window. The job row (the intent to submit) is committed
/// before the POST, so a crash mid-call leaves a record to reconcile instead of a second charge. The batch's worst-case
/// cost is reserved from its provider's budget in that same transaction, and a batch is cut to what the budget allows.
/// </summary>
public sealed class BatchFlusher(
    IServiceScopeFactory scopes,
    BatchFlushSignal signal,
    ProviderPauses pauses,
    PublicUrls urls,
    BudgetSettings budgetSettings,
    TimeProvider time,
    RelayMetrics metrics,
    ILogger<BatchFlusher> logger) : DrainingBackgroundService
{
    static readonly TimeSpan IdlePoll = TimeSpan.FromSeconds(1);
    static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    // After a submit that provably did not happen (provider down), wait before trying that provider again.
    readonly Dictionary<string, (int Failures, DateTimeOffset NotBefore)> backoff = [];

    protected override async Task RunAsync(CancellationToken stopping, CancellationToken working)
    {
        List<string> lanes;
        await using (var scope = scopes.CreateAsyncScope())
            lanes = scope.ServiceProvider.GetServices<IEnrichmentProvider>().Select(p => p.Lane).ToList();

        while (!stopping.IsCancellationRequested)
        {
            var next = IdlePoll;
            foreach (var lane in lanes.TakeWhile(_ => !stopping.IsCancellationRequested))
            {
                try
                {
                    // A flush under way finishes on a shutdown: no submit is cut off between its POST and its answer.
                    var due = await FlushAsync(lane, stopping, working);
                    if (due < next)
                        next = due;
                }
                catch (Exception ex) when (!working.IsCancellationRequested)
                {
                    logger.LogError(ex, "Flushing {Lane} failed; trying again shortly", lane);
                }
            }
            await signal.WaitAsync(next, time, stopping);
        }
    }

    /// <summary>Flushes at most one batch of a lane; returns how long until the lane needs another look.</summary>
    internal Task<TimeSpan> FlushAsync(string lane, CancellationToken ct) => FlushAsync(lane, ct, ct);

    /// <param name="stopping">Once cancelled, no new batch is claimed; a batch already claimed is still sent.</param>
    /// <param name="ct">For the flush itself, claimed batch included.</param>
    async Task<TimeSpan> FlushAsync(string lane, CancellationToken stopping, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (backoff.TryGetValue(lane, out var wait) && wait.NotBefore > now)
            return wait.NotBefore - now;

        // Providers are scoped (their typed HttpClients are short-lived), so each flush gets a fresh scope.
        await using var scope = scopes.CreateAsyncScope();
        var provider = scope.ServiceProvider.GetServices<IEnrichmentProvider>().Single(p => p.Lane == lane);
        // A provider that refused the relay's key waits; now and then one batch goes as the probe.
        if (pauses.Holds(provider.Name))
            return Max(pauses.UntilProbe(provider.Name), IdlePoll);
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        // A look first, without locks or tracking: most wake-ups (each accepted request pulses one) find the batch neither
        // full nor due, and claiming a batch's rows for that would lock, read and track up to a thousand of them each time.
        var line = await LineAsync(db, lane, provider.MaxBatchSize, ct);
        if (line.Waiting == 0)
            return IdlePoll;
        if (line.Waiting < provider.MaxBatchSize && now < line.Since + provider.FlushWindow)
            return line.Since + provider.FlushWindow - now;

        // With several instances, each claims its own batch: rows another instance is packing are skipped, not waited for.
        await using var claim = await RowClaims.BeginAsync(db, ct);
        var waiting = await RowClaims.AcceptedRequests(db, lane, provider.MaxBatchSize).ToListAsync(ct);
        var passedOver = await RowClaims.PassedOverAsync(db, RowClaims.Accepted(db, lane), waiting.Count, provider.MaxBatchSize, ct);
        metrics.RowsClaimed("requests", 0, passedOver);
        if (waiting.Count == 0)
            return IdlePoll;

        // Due once the request longest in line for this provider has waited its window: a request that moved on in a
        // waterfall counts from when it moved (it fills this provider's batch), not from when the producer asked.
        var dueAt = waiting.Min(r => r.InLineSince) + provider.FlushWindow;
        if (waiting.Count < provider.MaxBatchSize && now < dueAt)
            return dueAt - now;
        if (stopping.IsCancellationRequested)
            return IdlePoll; // shutting down: leave the batch to the next start or another instance

        var budgets = scope.ServiceProvider.GetRequiredService<ProviderBudgets>();
        var cut = await budgets.CutAsync(provider.Name, waiting, ct);
        List<EnrichmentRequestRecord> refused = [.. cut.OverCeiling];
        // Complete: what does not fit ends now, unless open reservations may still give room back today.
        if (cut.Fits.Count == 0 && budgetSettings.Budgets.WhenExhausted == WhenBudgetExhausted.Complete && !cut.RoomMayReturn)
            refused.AddRange(cut.DoNotFit);
        if (refused.Count > 0)
        {
            await RefuseForBudgetAsync(scope.ServiceProvider, provider.Name, refused, ct);
            return TimeSpan.Zero; // the rest of the line goes in the next flush
        }
        if (cut.Fits.Count == 0)
        {
            // Wait: room comes back when reservations settle below their worst case, an operator raises the cap, or at midnight UTC.
            var nextPeriod = budgets.NextPeriod - now;
            return nextPeriod < budgetSettings.Budgets.SettleInterval ? Max(nextPeriod, TimeSpan.Zero) : budgetSettings.Budgets.SettleInterval;
        }

        metrics.RowsClaimed("requests", cut.Fits.Count, 0); // taken into a batch, not only looked at
        var result = await SubmitJobAsync(scope.ServiceProvider, provider, db, claim, [.. cut.Fits], cut.Reserve, ct);
        UpdateBackoff(lane, result);
        return TimeSpan.Zero;
    }

    /// <summary>
    /// How many of a lane's accepted requests a batch would take (at most <paramref name="limit"/>, the oldest), and since
    /// when the longest waiting of them has been in line; read without locks, so rows another instance is packing count.
    /// </summary>
    static async Task<(int Waiting, DateTimeOffset Since)> LineAsync(RelayDbContext db, string lane, int limit, CancellationToken ct)
    {
        var line = await RowClaims.Accepted(db, lane).Take(limit)
            .GroupBy(_ => 1)
            .Select(g => new { Waiting = g.Count(), Since = g.Min(r => r.QueuedAt ?? r.AcceptedAt) })
            .FirstOrDefaultAsync(ct);
        return line is null ? (0, default) : (line.Waiting, line.Since);
    }

    /// <summary>
    /// One job: its intent recorded, its POST sent, and the provider's answer recorded. A whole-call refusal for its
    /// input (a 400) is split in halves, each its own job, until the leads the provider refuses are found.
    /// Null when nothing was sent (the requests had moved, or the job was taken over before its POST left).
    /// </summary>
    /// <param name="worstCase">What the batch may cost at most, to reserve from the provider's budget (the cut priced it).</param>
    async Task<SubmitResult?> SubmitJobAsync(IServiceProvider services, IEnrichmentProvider provider, RelayDbContext db,
        IDbContextTransaction? claim, List<EnrichmentRequestRecord> requests, decimal worstCase, CancellationToken ct)
    {
        var lane = provider.Lane;
        var now = time.GetUtcNow();
        // 1. Record the intent: the job and its requests, committed before anything leaves.
        var token = CallbackTokens.NewToken();
        var job = new ProviderJobRecord
        {
            Id = Guid.NewGuid(),
            Provider = provider.Name,
            Lane = lane,
            State = ProviderJobState.Submitting,
            CallbackTokenHash = CallbackTokens.Hash(token),
            RequestCount = requests.Count,
            CreatedAt = now,
        };
        var budgets = services.GetRequiredService<ProviderBudgets>();
        var attempts = await RecordIntentAsync(db, claim, job, requests, now, budgets, worstCase, ct);
        if (attempts is null)
            return null; // something else moved some of them first, or another instance reserved the budget first; look again

        // 2. The paid call: one span for the batch (its HTTP calls are children).
        using var jobScope = logger.BeginJobScope(job);
        using var submit = RelayTracing.Source.StartActivity($"submit {lane}");
        submit?.SetTag("relay.provider", RelayMetrics.Tag(provider.Name));
        submit?.SetTag("relay.job_name", job.Name);
        submit?.SetTag("relay.batch_size", requests.Count);

        var leads = requests.Select(r => new PendingLead(r.RequestId, LedgerViews.AskedOf(r))).ToList();
        logger.LogInformation("Submitting job {JobName} with {LeadCount} leads to {Provider}", job.Name, leads.Count, provider.Name);
        var call = new SubmitCall(job.Id, job.Name, CallbackTokens.Url(urls.BaseUrl, token), leads);
        SubmitResult result;
        SubmitStart start;
        IReadOnlyList<CapturedAnswer> answers;
        using (ProviderAnswers.Capture(out answers))
        using (SubmitStart.Begin(claimToken => StartAsync(db, job, claimToken), out start))
        {
            try
            {
                result = await provider.SubmitAsync(call, ct);
            }
            catch (Exception ex)
            {
                // Cut off, cancelled included: the provider may have the job. Recorded as such below.
                result = new SubmitResult(SubmitStatus.Unknown, Detail: ex.Message);
            }
        }
        if (start.Abandoned)
        {
            // A sweep took the job over while its POST waited its turn (it looked orphaned): it owns the leads now.
            logger.LogWarning("Job {JobName} was taken over before its submit left; nothing was sent", job.Name);
            return null;
        }
        submit?.SetTag("relay.submit_status", result.Status.ToString());
        // Marked in each request's trace only now: nothing may delay the POST once the intent is committed
        // (a poller may already see these requests as submitted).
        foreach (var request in requests)
            request.TraceSubmitted(submit);
        metrics.BatchSubmitted(provider.Name, requests.Count);
        if (result.PauseReason is { } reason)
            pauses.Refused(provider.Name, reason);
        else if (result.Status is SubmitStatus.Accepted or SubmitStatus.Refused)
            pauses.Worked(provider.Name); // it answered about the leads: the key and the address work

        // 3. Record what the provider said, with any completions it implies, in one transaction.
        var split = result is { Status: SubmitStatus.Refused, Bisectable: true } && requests.Count > 1;
        try
        {
            AnswerLog.Add(db, ProviderAnswers.Snapshot(answers), [job.Id]);
            await ApplyAsync(services, db, job, requests, attempts, split ? Split(result, requests.Count) : result, ct);
        }
        catch (Exception ex)
        {
            // The answer could not be recorded (the ledger failed, or the shutdown deadline passed): the job must not
            // stay "Submitting", which only the sweeps' orphan rule would pick up, minutes later.
            await MarkUnknownAsync(job, ex.Message);
            throw;
        }
        await SettleIfEndedAsync(budgets, job, ct);
        if (!split)
            return result;

        // The provider did nothing with a call it refused for its input: each half goes again, as a job of its own.
        var half = requests.Count / 2;
        foreach (var part in new[] { requests[..half], requests[half..] })
            await SubmitJobAsync(services, provider, db, null, part, part.Sum(r => budgetSettings.WorstCase(provider.Name, r)), ct);
        return result;
    }

    /// <summary>
    /// Requests the budget will not pay for (over the per-request ceiling, or past the cap with WhenExhausted=Complete) end
    /// at this provider with no call: insufficientCredits, detail "budget", on to the next provider of their waterfall if any.
    /// </summary>
    async Task RefuseForBudgetAsync(IServiceProvider services, ProviderName provider, List<EnrichmentRequestRecord> requests, CancellationToken ct)
    {
        await services.GetRequiredService<JobResults>().RefuseAsync(requests, provider,
            new CompletionResult(Outcome.InsufficientCredits, Detail: ProviderBudgets.Detail), ct);
        await services.GetRequiredService<RequestCompletion>().SaveAsync(ct);
        logger.LogInformation("{RequestCount} requests for {Provider} refused without a call: over its budget (insufficientCredits, on to the " +
                              "next provider of their waterfall, if any)", requests.Count, provider);
    }

    /// <summary>
    /// A job that ended with its submit (refused, not sent, or every lead answered at once) gives its reservation back
    /// now, not at the next settlement round; best effort, the settlement round catches up.
    /// </summary>
    async Task SettleIfEndedAsync(ProviderBudgets budgets, ProviderJobRecord job, CancellationToken ct)
    {
        if (job.State is not (ProviderJobState.Completed or ProviderJobState.Refused))
            return;
        try
        {
            await budgets.SettleAsync(job.Id, ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Settling the budget of job {JobName} failed; the settlement round will", job.Name);
        }
    }

    /// <summary>A refused batch to be split: nothing completes, every lead goes back in line for its half.</summary>
    static SubmitResult Split(SubmitResult refused, int leads) => new(SubmitStatus.NotSent,
        Detail: $"Refused as a whole ({refused.Detail}); split to find which of its {leads} leads the provider refuses.");

    /// <summary>
    /// Records that the job's POST is leaving now, only if the job is still this submit's (nobody took it over): the
    /// orphan rule then counts from this moment, not from the time the intent spent queued.
    /// </summary>
    async Task<bool> StartAsync(RelayDbContext db, ProviderJobRecord job, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var version = job.Version;
        var started = await db.ProviderJobs
            .Where(j => j.Id == job.Id && j.State == ProviderJobState.Submitting && j.SubmitStartedAt == null && j.Version == version)
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.SubmitStartedAt, now).SetProperty(j => j.Version, version + 1), ct);
        if (started == 0)
            return false;
        // The tracked row takes what the ledger now holds, so the answer is saved against it.
        var entry = db.Entry(job);
        entry.Property(j => j.SubmitStartedAt).CurrentValue = now;
        entry.Property(j => j.SubmitStartedAt).OriginalValue = now;
        entry.Property(j => j.Version).CurrentValue = version + 1;
        entry.Property(j => j.Version).OriginalValue = version + 1;
        return true;
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Best effort, with its own scope and a short timeout of its own: the caller's token may be the cancelled one.</summary>
    async Task MarkUnknownAsync(ProviderJobRecord job, string why)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            var now = time.GetUtcNow();
            await db.ProviderJobs.Where(j => j.Id == job.Id && j.State == ProviderJobState.Submitting)
                .ExecuteUpdateAsync(set => set
                    .SetProperty(j => j.State, ProviderJobState.SubmitUnknown)
                    .SetProperty(j => j.NextPollAt, now)
                    .SetProperty(j => j.Version, j => j.Version + 1)
                    .SetProperty(j => j.LastError, $"The submit's answer could not be recorded: {why}"), timeout.Token);
            logger.LogWarning("Job {JobName}: its submit's answer could not be recorded ({Reason}); it will be reconciled", job.Name, why);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Job {JobName} stays Submitting until the sweep's orphan rule reconciles it", job.Name);
        }
    }

    /// <summary>
    /// The job row, its requests moved to it in one statement (a batch is up to 1,000 rows: one tracked update each
    /// would cost more than the rest of the flush), an attempt per request, and the job's worst case reserved from its
    /// provider's budget, in one transaction. Null, with nothing changed, when not every request was still waiting or the
    /// worst case no longer fits the budget; else every attempt of these requests, the new ones included.
    /// </summary>
    static async Task<List<RequestAttemptRecord>?> RecordIntentAsync(RelayDbContext db, IDbContextTransaction? claim, ProviderJobRecord job,
        List<EnrichmentRequestRecord> requests, DateTimeOffset now, ProviderBudgets budgets, decimal worstCase, CancellationToken ct)
    {
        // PostgreSQL: the claim's transaction, whose row locks already keep other instances off these requests.
        var transaction = claim ?? await db.Database.BeginTransactionAsync(ct);
        List<RequestAttemptRecord> attempts;
        try
        {
            var ids = requests.Select(r => r.RequestId).ToList();
            // Earlier attempts of these requests (a lead sent again): the new one is numbered after them.
            attempts = await db.Attempts.Where(a => ids.Contains(a.RequestId)).ToListAsync(ct);
            var tries = attempts.GroupBy(a => a.RequestId).ToDictionary(g => g.Key, g => g.Max(a => a.Number));
            if (!await budgets.ReserveAsync(job, worstCase, ct))
            {
                await transaction.RollbackAsync(ct);
                db.ChangeTracker.Clear();
                return null;
            }
            db.ProviderJobs.Add(job);
            await db.SaveChangesAsync(ct);
            // A batch is up to 1,000 attempts: inserted in bulk, then read back tracked (with their ids) for the answer to end.
            await BulkInsert.InsertAsync(db, requests.Select(request => new RequestAttemptRecord
            {
                RequestId = request.RequestId, Number = tries.GetValueOrDefault(request.RequestId) + 1, Provider = job.Provider,
                Lane = job.Lane, JobId = job.Id, StartedAt = now,
            }).ToList(), ct);
            attempts.AddRange(await db.Attempts.Where(a => a.JobId == job.Id).ToListAsync(ct));
            var moved = await db.Requests.Where(r => ids.Contains(r.RequestId) && r.State == RequestState.Accepted)
                .ExecuteUpdateAsync(set => set
                    .SetProperty(r => r.State, RequestState.Submitted)
                    .SetProperty(r => r.ProviderJobId, job.Id)
                    .SetProperty(r => r.SubmittedAt, now)
                    .SetProperty(r => r.Version, r => r.Version + 1), ct);
            if (moved != requests.Count)
            {
                await transaction.RollbackAsync(ct);
                db.ChangeTracker.Clear();
                return null;
            }
            await transaction.CommitAsync(ct);
        }
        finally
        {
            if (claim is null)
                await transaction.DisposeAsync();
        }
        // The tracked rows take the values the ledger now holds, as if loaded so: later changes are saved against them.
        // Each tells the tracker of its changes (NotifyingRecord), so there is nothing to detect before accepting them.
        foreach (var request in requests)
        {
            request.State = RequestState.Submitted;
            request.ProviderJobId = job.Id;
            request.ProviderJob = job;
            request.SubmittedAt = now;
            request.Version++;
        }
        db.ChangeTracker.AcceptAllChanges();
        return attempts;
    }

    async Task ApplyAsync(IServiceProvider services, RelayDbContext db, ProviderJobRecord job, List<EnrichmentRequestRecord> requests,
        List<RequestAttemptRecord> attempts, SubmitResult result, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        job.LastError = result.Detail;
        job.SubmitAnswer = result.ProviderStatus;
        switch (result.Status)
        {
            case SubmitStatus.Accepted:
                job.State = ProviderJobState.Submitted;
                job.ExternalId = result.ExternalJobId;
                job.SubmittedAt = now;
                job.NextPollAt = now;
                break;
            case SubmitStatus.Refused:
                job.State = ProviderJobState.Refused;
                job.CompletedAt = now;
                break;
            case SubmitStatus.NotSent:
                // Nothing reached the provider: no attempt was made, and the requests go back to wait for the next batch.
                job.State = ProviderJobState.Refused;
                job.CompletedAt = now;
                db.Attempts.RemoveRange(attempts.Where(a => a.JobId == job.Id));
                foreach (var request in requests)
                    request.ReturnToWaiting();
                logger.LogWarning("Job {JobName} was not sent: {Detail}; its requests wait for the next batch", job.Name, result.Detail);
                break;
            case SubmitStatus.Unknown:
                // Never post again blindly: the requests stay with this job until it is reconciled.
                job.State = ProviderJobState.SubmitUnknown;
                job.NextPollAt = now;
                logger.LogWarning("Job {JobName} may or may not have reached {Provider}: {Detail}", job.Name, job.Provider, result.Detail);
                break;
        }
        if (result.Status == SubmitStatus.NotSent)
        {
            await services.GetRequiredService<RequestCompletion>().SaveAsync(ct);
            return;
        }

        var jobResults = services.GetRequiredService<JobResults>();
        var work = new JobResults.JobWork(job, requests.ToDictionary(r => r.RequestId), attempts.ToLookup(a => a.RequestId));
        await jobResults.ApplyAsync(work, new JobReading(job.Id)
        {
            Completed = result.CompletedLeads,
            ProviderStates = result.ProviderState ?? new Dictionary<Guid, string>(),
        }, ct);
        await services.GetRequiredService<RequestCompletion>().SaveAsync(ct);
    }

    /// <summary>After a submit that provably did nothing: wait what the provider asked (Retry-After), else back off exponentially.</summary>
    void UpdateBackoff(string lane, SubmitResult? result)
    {
        if (result is null)
            return; // nothing was sent: nothing learnt about the provider
        if (result.Status != SubmitStatus.NotSent)
        {
            backoff.Remove(lane);
            return;
        }
        var failures = backoff.TryGetValue(lane, out var previous) ? previous.Failures + 1 : 1;
        var delay = result.RetryAfter ?? TimeSpan.FromSeconds(Math.Min(Math.Pow(2, failures), MaxBackoff.TotalSeconds));
        backoff[lane] = (failures, time.GetUtcNow() + delay);
    }
}
