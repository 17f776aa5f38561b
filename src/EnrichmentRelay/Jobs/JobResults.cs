using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// Applies what a provider said of one job (a submit's answer, a reading, a callback) to the ledger: the job's id at the
/// provider, its leads' provider state, their results (each closing its request's attempt on this job, once), what the
/// job cost, and the job's end once every lead has one. A lead's result ends its attempt; its request then goes on to the
/// next provider of its waterfall, or ends. Staged in the caller's unit of work; the caller saves.
/// </summary>
public sealed class JobResults(RelayDbContext db, RequestCompletion completion, TimeProvider time, Waterfall waterfall)
{
    /// <summary>A job's requests and their attempts, read once for everything applied to it in this unit of work.</summary>
    public sealed class JobWork(ProviderJobRecord job, Dictionary<Guid, EnrichmentRequestRecord> requests, ILookup<Guid, RequestAttemptRecord> attempts)
    {
        public ProviderJobRecord Job => job;
        public IReadOnlyDictionary<Guid, EnrichmentRequestRecord> Requests => requests;
        public IReadOnlyList<RequestAttemptRecord> AttemptsOf(Guid requestId) => attempts[requestId].ToList();
        public IEnumerable<EnrichmentRequestRecord> Open => requests.Values.Where(r => r.State == RequestState.Submitted && r.ProviderJobId == job.Id);

        /// <summary>
        /// The job as a reader or a translation sees it: every lead, those already ended (or gone on to another provider)
        /// marked so; each asking what its attempt on this job asks.
        /// </summary>
        public OpenJob View(bool pastDeadline = false) => new(job.Id, job.Name, job.Lane, job.ExternalId, job.SubmitAnswer, job.CreatedAt,
            job.SentAt, job.SubmittedAt, FateUnknown: job.State is ProviderJobState.SubmitUnknown or ProviderJobState.NeedsAttention,
            pastDeadline, requests.Values.Select(r => new OpenLead(r.RequestId, LedgerViews.AskedOf(r), r.ProviderJobId == job.Id ? r.ProviderState : null,
                r.SubmittedAt ?? r.AcceptedAt, Ended: r.State == RequestState.Completed || r.ProviderJobId != job.Id)).ToList());
    }

    /// <summary>
    /// Reads the job's requests, those that went on to another provider since included (a repeat of their results is
    /// recognised as such), and every attempt of theirs (their event lists all of a request's attempts).
    /// </summary>
    public Task<JobWork> OpenAsync(ProviderJobRecord job, CancellationToken ct) => ReadAsync(db, job, ct);

    /// <remarks>
    /// Three statements, each led by an index: the ids of the requests the job was sent, then their rows (and those of the
    /// job's requests from before attempts were recorded), then their attempts. In one statement each
    /// (<c>ProviderJobId = @job OR RequestId IN (subquery)</c>, and a semi-join for the attempts) PostgreSQL could only
    /// scan the whole requests and attempts tables: a cost per job that grew with the ledger, not with the job.
    /// </remarks>
    internal static async Task<JobWork> ReadAsync(RelayDbContext db, ProviderJobRecord job, CancellationToken ct)
    {
        var tried = await db.Attempts.Where(a => a.JobId == job.Id).Select(a => a.RequestId).ToListAsync(ct);
        var requests = await db.Requests.Where(r => tried.Contains(r.RequestId) || r.ProviderJobId == job.Id).ToDictionaryAsync(r => r.RequestId, ct);
        foreach (var request in requests.Values.Where(r => r.ProviderJobId == job.Id))
            request.ProviderJob = job;
        var attempts = await db.Attempts.Where(a => tried.Contains(a.RequestId)).ToListAsync(ct);
        return new JobWork(job, requests, attempts.ToLookup(a => a.RequestId));
    }

    /// <summary>
    /// Ends a lead's attempt on the job: its request goes on to the next provider of its waterfall that can identify the
    /// lead, asking for the fields still missing, or completes with what every attempt found. False when its request or
    /// its attempt on this job had already ended (a late or repeated result).
    /// </summary>
    public bool Complete(JobWork work, Guid requestId, LeadResult result)
    {
        if (!work.Requests.TryGetValue(requestId, out var request) || request.ProviderJobId != work.Job.Id)
            return false;
        var attempts = work.AttemptsOf(requestId);
        var ended = result.ToCompletion();
        if (attempts.All(a => a.JobId != work.Job.Id))
            return completion.Complete(request, ended, attempts); // a job from before attempts were recorded
        if (completion.EndAttempt(request, ended, attempts) is not { } attempt)
            return false;

        GoOnOrFinish(request, attempts, attempt.Provider, ended.Outcome, Waterfall.Missing(LedgerViews.ReadFields(attempt.FieldsJson), ended),
            Waterfall.Merge(attempts, ended), []);
        return true;
    }

    /// <summary>
    /// Requests waiting for <paramref name="provider"/> whose budget will not pay for them end there with no call: like an
    /// <c>insufficientCredits</c> answer, each goes on to the next provider of its waterfall (the refusing one listed as
    /// skipped, with <paramref name="refusal"/>'s detail), or completes with what its earlier attempts found, else the refusal.
    /// </summary>
    public async Task RefuseAsync(IReadOnlyList<EnrichmentRequestRecord> requests, ProviderName provider, CompletionResult refusal, CancellationToken ct)
    {
        var ids = requests.Select(r => r.RequestId).ToList();
        var attempts = (await db.Attempts.Where(a => ids.Contains(a.RequestId)).ToListAsync(ct)).ToLookup(a => a.RequestId);
        var now = time.GetUtcNow();
        foreach (var request in requests)
        {
            var tried = attempts[request.RequestId].ToList();
            // Not an attempt (nothing was sent), but the last word on the request if it ends here: merged with what came before.
            var refused = new RequestAttemptRecord
            {
                RequestId = request.RequestId, Number = tried.Count + 1, Provider = provider, Lane = request.Lane ?? "", StartedAt = now,
                CompletedAt = now, Outcome = refusal.Outcome, Detail = refusal.Detail,
            };
            GoOnOrFinish(request, tried, provider, refusal.Outcome, LedgerViews.FieldsAsked(request), Waterfall.Merge([.. tried, refused], refusal),
                [new SkippedProvider { Provider = provider, Reason = $"{refusal.Outcome}: {refusal.Detail}." }]);
        }
    }

    /// <summary>
    /// After <paramref name="provider"/> ended its part of the request with <paramref name="outcome"/> (an attempt, or a
    /// refusal without a call), leaving <paramref name="missing"/> unfound: the request goes on to the next provider of its
    /// waterfall that can identify the lead, asking for those fields, or completes with <paramref name="result"/>.
    /// </summary>
    void GoOnOrFinish(EnrichmentRequestRecord request, IReadOnlyList<RequestAttemptRecord> attempts, ProviderName provider, Outcome outcome,
        IReadOnlyList<EnrichmentField> missing, CompletionResult result, IReadOnlyList<SkippedProvider> passedOver)
    {
        var wanted = LedgerViews.ReadRequest(request);
        var next = waterfall.Next(wanted, provider, outcome, missing);
        // The providers of its order passed over at intake (before the first one asked), then on each step.
        var skipped = (request.SkippedJson is not null ? LedgerViews.ReadSkipped(request.SkippedJson)
                : waterfall.OrderOf(wanted) is null ? [] : waterfall.First(wanted).Skipped)
            .Concat(passedOver).Concat(next.Skipped).ToList();
        if (next.Provider is { } nextProvider)
        {
            request.MoveOn(nextProvider.Name, nextProvider.Lane, LedgerViews.WriteFields(missing), LedgerViews.WriteSkipped(skipped), time.GetUtcNow());
            return;
        }
        request.SkippedJson = skipped.Count == 0 ? null : LedgerViews.WriteSkipped(skipped);
        completion.Finish(request, result, attempts);
    }

    /// <summary>Applies a reading; returns how many requests it completed.</summary>
    public async Task<int> ApplyAsync(JobWork work, JobReading reading, CancellationToken ct)
    {
        var job = work.Job;
        if (reading.FoundAs is { } externalId && job.ExternalId != externalId)
        {
            job.ExternalId = externalId;
            if (job.State is ProviderJobState.SubmitUnknown or ProviderJobState.NeedsAttention or ProviderJobState.Submitting)
                job.State = ProviderJobState.Submitted;
            job.SubmittedAt ??= time.GetUtcNow();
        }
        foreach (var (requestId, state) in reading.ProviderStates)
            if (work.Requests.TryGetValue(requestId, out var request) && request.State != RequestState.Completed && request.ProviderState != state)
            {
                request.ProviderState = state;
                request.Version++;
            }
        var completed = reading.Completed.Count(r => Complete(work, r.Key, r.Value));
        // A provider that reports what the whole job cost (Precept) reports it with the job's end.
        if (reading.JobCredits is { } credits)
            await completion.ChargeJobAsync(job, credits, ct);
        EndIfDone(work);
        return completed;
    }

    /// <summary>The job ends once no lead of it is open.</summary>
    public void EndIfDone(JobWork work)
    {
        var job = work.Job;
        if (job.State is ProviderJobState.Completed or ProviderJobState.Refused || work.Open.Any())
            return;
        job.State = ProviderJobState.Completed;
        job.CompletedAt ??= time.GetUtcNow();
    }
}

public static class LeadResults
{
    public static CompletionResult ToCompletion(this LeadResult result) =>
        new(result.Outcome, result.Emails, result.Phones, result.Detail, result.CreditsCharged);
}
