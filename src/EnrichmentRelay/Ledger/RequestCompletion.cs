using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Ledger;

/// <summary>The one way a request ends: terminal state and its EnrichmentCompleted, staged together.</summary>
public sealed record CompletionResult(
    Outcome Outcome,
    IReadOnlyList<string>? Emails = null,
    IReadOnlyList<string>? Phones = null,
    string? Detail = null,
    decimal? CreditsCharged = null);

/// <summary>
/// Something that stages its own rows with each request's completion, in the same unit of work (the identity cache
/// remembers what was found): whatever completes a request, through <see cref="RequestCompletion"/>, stages them too.
/// </summary>
public interface ICompletionStaging
{
    /// <param name="request">The request, completed (its outcome and contacts set).</param>
    /// <param name="attempts">Its attempts, ended.</param>
    void Completing(EnrichmentRequestRecord request, IReadOnlyList<RequestAttemptRecord> attempts, DateTimeOffset now);

}

public sealed class RequestCompletion(RelayDbContext db, TimeProvider time, OutboxSignal outboxSignal, RelayMetrics metrics,
    IEnumerable<ICompletionStaging>? stagings = null)
{
    readonly IReadOnlyList<ICompletionStaging> stagings = stagings?.ToList() ?? [];

    // Completions and charges staged since the last save: counted (and traced) only once committed, so one that
    // loses a race with another writer, or whose transaction rolls back, is not counted.
    readonly List<EnrichmentRequestRecord> completedSinceSave = [];
    readonly List<(ProviderName Provider, decimal Credits)> chargedSinceSave = [];
    // Attempts ended since the last save: each provider's fields, finds and credits are counted per attempt (a waterfall
    // request's attempts are at several providers).
    readonly List<RequestAttemptRecord> endedSinceSave = [];
    // Requests answered with no provider call (the identity cache): no provider's fields are counted for them.
    readonly HashSet<Guid> answeredWithoutCallSinceSave = [];

    /// <summary>
    /// Marks the request completed, with the attempt of its current job, and stages its event in the outbox. The caller
    /// saves them in one transaction. Returns false when the request was already terminal, or that attempt already
    /// ended (a late or repeated result): nothing is staged.
    /// </summary>
    /// <param name="attempts">The request's attempts, tracked (none for a request that never reached a job).</param>
    public bool Complete(EnrichmentRequestRecord request, CompletionResult result, IReadOnlyList<RequestAttemptRecord>? attempts = null)
    {
        if (request.State == RequestState.Completed)
            return false;
        var current = attempts?.FirstOrDefault(a => a.JobId == request.ProviderJobId);
        if (current is { IsOpen: false })
            return false;
        var now = time.GetUtcNow();
        if (current is not null)
            End(current, request, result, now);
        Finish(request, result, attempts ?? [], now);
        return true;
    }

    /// <summary>
    /// Ends the attempt of the request's current job with <paramref name="result"/> (what it asked, found and cost), leaving
    /// the request itself to the caller (<see cref="Finish"/>, or on to another provider). Null when the request was
    /// already terminal, or has no open attempt on its current job (a late or repeated result).
    /// </summary>
    public RequestAttemptRecord? EndAttempt(EnrichmentRequestRecord request, CompletionResult result, IReadOnlyList<RequestAttemptRecord> attempts)
    {
        if (request.State == RequestState.Completed)
            return null;
        var current = attempts.FirstOrDefault(a => a.JobId == request.ProviderJobId);
        if (current is not { IsOpen: true })
            return null;
        End(current, request, result, time.GetUtcNow());
        return current;
    }

    void End(RequestAttemptRecord attempt, EnrichmentRequestRecord request, CompletionResult result, DateTimeOffset now)
    {
        endedSinceSave.Add(attempt);
        attempt.CompletedAt = now;
        attempt.Outcome = result.Outcome;
        attempt.CreditsCharged = result.CreditsCharged;
        attempt.Detail = result.Detail;
        attempt.ProviderJobId = request.ProviderJob?.ExternalId;
        attempt.FieldsJson = LedgerViews.WriteFields(LedgerViews.FieldsAsked(request));
        attempt.EmailsJson = JsonSerializer.Serialize(result.Emails ?? []);
        attempt.PhonesJson = JsonSerializer.Serialize(result.Phones ?? []);
    }

    /// <summary>
    /// Completes a request answered with no provider call (from the identity cache, or an identical request's answer):
    /// like <see cref="Finish(EnrichmentRequestRecord, CompletionResult, IReadOnlyList{RequestAttemptRecord})"/>, but no
    /// provider's requested and found fields are counted for it (its attempts are marked as from the cache).
    /// </summary>
    public void FinishWithoutCall(EnrichmentRequestRecord request, CompletionResult result, IReadOnlyList<RequestAttemptRecord> attempts)
    {
        answeredWithoutCallSinceSave.Add(request.RequestId);
        Finish(request, result, attempts, time.GetUtcNow());
    }

    /// <summary>Marks the request completed with <paramref name="result"/> and stages its event (listing <paramref name="attempts"/>) in the outbox.</summary>
    public void Finish(EnrichmentRequestRecord request, CompletionResult result, IReadOnlyList<RequestAttemptRecord> attempts) =>
        Finish(request, result, attempts, time.GetUtcNow());

    void Finish(EnrichmentRequestRecord request, CompletionResult result, IReadOnlyList<RequestAttemptRecord> attempts, DateTimeOffset now)
    {
        request.State = RequestState.Completed;
        request.CompletedAt = now;
        request.Outcome = result.Outcome;
        request.EmailsJson = JsonSerializer.Serialize(result.Emails ?? []);
        request.PhonesJson = JsonSerializer.Serialize(result.Phones ?? []);
        request.Detail = result.Detail;
        request.CreditsCharged = result.CreditsCharged;
        request.Version++;

        var completed = LedgerViews.ToCompletedEvent(request, request.ProviderJob, attempts);
        // Published in the request's own trace, whatever callback or poll completed it.
        db.Outbox.Add(OutboxRows.For(completed, completed.EventId, request.CompletedAt.Value, request.TraceParent));
        completedSinceSave.Add(request);
        foreach (var staging in stagings)
            staging.Completing(request, attempts, now);
    }

    /// <summary>
    /// Records what a provider that charges per job (Precept) says the whole job cost, once: reports repeat (a
    /// callback, the sweep, another instance), so the ledger takes the first and only that one is counted.
    /// </summary>
    public async Task ChargeJobAsync(ProviderJobRecord job, decimal credits, CancellationToken ct)
    {
        if (job.CreditsCharged is not null)
            return;
        // Conditional, in the database: of two writers that both saw no cost yet, one records it.
        var recorded = await db.ProviderJobs.Where(j => j.Id == job.Id && j.CreditsCharged == null)
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.CreditsCharged, credits), ct);
        var tracked = db.Entry(job).Property(j => j.CreditsCharged);
        tracked.CurrentValue = credits;
        tracked.OriginalValue = credits; // already in the ledger: nothing for SaveChanges to write
        if (recorded == 1)
            chargedSinceSave.Add((job.Provider, credits));
    }

    /// <summary>For a caller whose save of the staged completions failed and was abandoned: nothing of them happened.</summary>
    public void Abandoned()
    {
        completedSinceSave.Clear();
        endedSinceSave.Clear();
        chargedSinceSave.Clear();
        answeredWithoutCallSinceSave.Clear();
    }

    /// <summary>For a caller that saved the staged completions itself: counts and traces them. <see cref="SaveAsync"/> does this.</summary>
    public void Committed()
    {
        var byAttempt = new HashSet<Guid>();
        foreach (var attempt in endedSinceSave)
        {
            metrics.FieldsCompleted(attempt.Provider, LedgerViews.ReadFields(attempt.FieldsJson),
                emailFound: attempt.EmailsJson is not (null or "[]"), phoneFound: attempt.PhonesJson is not (null or "[]"));
            if (attempt.CreditsCharged is > 0)
                metrics.JobCharged(attempt.Provider, attempt.CreditsCharged.Value);
            byAttempt.Add(attempt.RequestId);
        }
        endedSinceSave.Clear();
        foreach (var request in completedSinceSave)
        {
            // A request whose attempts were counted above is counted once more only as completed.
            var counted = byAttempt.Contains(request.RequestId) || answeredWithoutCallSinceSave.Contains(request.RequestId);
            metrics.RequestCompleted(request.Provider, request.Outcome!.Value, counted ? null : request.CreditsCharged);
            if (!counted)
                metrics.FieldsCompleted(request.Provider, LedgerViews.ReadRequest(request).Fields ?? [],
                    emailFound: request.EmailsJson is not (null or "[]"), phoneFound: request.PhonesJson is not (null or "[]"));
            request.TraceCompleted();
        }
        completedSinceSave.Clear();
        answeredWithoutCallSinceSave.Clear();
        foreach (var (provider, credits) in chargedSinceSave)
            metrics.JobCharged(provider, credits);
        chargedSinceSave.Clear();
    }

    /// <summary>
    /// Saves, in one transaction (the caller's claim, committed here, so what is counted is what is committed; else one
    /// of its own). A request another writer completed (or changed) first is lost to it: its changes, its attempt's end
    /// and the rows its completion staged are dropped, and it is reloaded, being terminal now. A conflict on a job
    /// throws, with nothing saved: what this unit of work decided rests on a stale job.
    /// </summary>
    public async Task SaveAsync(CancellationToken ct)
    {
        // A job's completions are up to 1,000 requests and their attempts updated, and as many events and cache rows
        // added: written in bulk, after the rest of the unit of work, in the same transaction (SaveChanges would write a
        // statement for each).
        var requests = db.TakeModified<EnrichmentRequestRecord>();
        var attempts = db.TakeModified<RequestAttemptRecord>();
        var outbox = db.TakeAdded<OutboxMessage>();
        var cached = db.TakeAdded<IdentityCacheRecord>();
        await using var owned = db.Database.CurrentTransaction is null && requests.Count + attempts.Count + outbox.Count + cached.Count > 0
            ? await db.Database.BeginTransactionAsync(ct)
            : null;
        var transaction = owned ?? db.Database.CurrentTransaction;
        await SaveTheRestAsync(ct);

        foreach (var row in await BulkUpdate.UpdateAsync<EnrichmentRequestRecord>(db, requests, ct))
        {
            // The winner staged its own event and ended the attempt itself.
            var lost = ((EnrichmentRequestRecord)row.Entity).RequestId;
            completedSinceSave.RemoveAll(r => r.RequestId == lost);
            endedSinceSave.RemoveAll(a => a.RequestId == lost);
            var eventId = EnrichmentCompleted.EventIdFor(lost);
            outbox.RemoveAll(o => o.MessageId == eventId);
            cached.RemoveAll(c => c.RequestId == lost);
            foreach (var attempt in attempts.Where(a => ((RequestAttemptRecord)a.Entity).RequestId == lost).ToList())
            {
                attempts.Remove(attempt);
                await attempt.Entry.ReloadAsync(ct);
            }
            await row.Entry.ReloadAsync(ct);
        }
        // An attempt is only ever changed with its request (whose version guards it), so none is lost here.
        await BulkUpdate.UpdateAsync<RequestAttemptRecord>(db, attempts, ct);
        await BulkInsert.InsertAsync(db, outbox, ct);
        await BulkInsert.InsertAsync(db, cached, ct);
        if (transaction is not null)
            await transaction.CommitAsync(ct);
        Committed();
        outboxSignal.Pulse();
    }

    /// <summary>
    /// Everything but the rows written in bulk (whose changes are taken, so not looked for again), retried once per
    /// conflict on a row that is not a job (reloaded, then left alone).
    /// </summary>
    async Task SaveTheRestAsync(CancellationToken ct)
    {
        while (true)
        {
            try
            {
                await db.SaveChangesDetectingAsync(row => row is not (EnrichmentRequestRecord or RequestAttemptRecord), ct);
                return;
            }
            catch (DbUpdateConcurrencyException conflict)
            {
                // A job changed by another writer (a sweep, a poll, a flush on another instance): none of it is kept; the
                // caller's next round starts from the ledger.
                if (conflict.Entries.Any(e => e.Entity is ProviderJobRecord))
                {
                    db.ChangeTracker.Clear();
                    Abandoned();
                    throw;
                }
                foreach (var entry in conflict.Entries)
                    await entry.ReloadAsync(ct);
            }
        }
    }
}
