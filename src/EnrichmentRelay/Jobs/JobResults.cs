using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// Applies what a provider said of one job (a submit's answer, a reading, a callback) to the ledger: the job's id at the
/// provider, its leads' provider state, their results (each closing its request's attempt on this job, once), what the
/// job cost, and the job's end once every lead has one. Staged in the caller's unit of work; the caller saves.
/// </summary>
public sealed class JobResults(RelayDbContext db, RequestCompletion completion, TimeProvider time)
{
    /// <summary>A job's requests and their attempts, read once for everything applied to it in this unit of work.</summary>
    public sealed class JobWork(ProviderJobRecord job, Dictionary<Guid, EnrichmentRequestRecord> requests, ILookup<Guid, RequestAttemptRecord> attempts)
    {
        public ProviderJobRecord Job => job;
        public IReadOnlyDictionary<Guid, EnrichmentRequestRecord> Requests => requests;
        public IReadOnlyList<RequestAttemptRecord> AttemptsOf(Guid requestId) => attempts[requestId].ToList();
        public IEnumerable<EnrichmentRequestRecord> Open => requests.Values.Where(r => r.State == RequestState.Submitted && r.ProviderJobId == job.Id);

        /// <summary>The job as a reader or a translation sees it: every lead, those already ended marked so.</summary>
        public OpenJob View(bool pastDeadline = false) => new(job.Id, job.Name, job.Lane, job.ExternalId, job.SubmitAnswer, job.CreatedAt,
            job.SentAt, job.SubmittedAt, FateUnknown: job.State is ProviderJobState.SubmitUnknown or ProviderJobState.NeedsAttention,
            pastDeadline, requests.Values.Select(r => new OpenLead(r.RequestId, LedgerViews.ReadRequest(r), r.ProviderState,
                r.SubmittedAt ?? r.AcceptedAt, Ended: r.State == RequestState.Completed)).ToList());
    }

    /// <summary>Reads the job's requests and every attempt of theirs (their event lists all of a request's attempts).</summary>
    public async Task<JobWork> OpenAsync(ProviderJobRecord job, CancellationToken ct)
    {
        var requests = await db.Requests.Where(r => r.ProviderJobId == job.Id).ToDictionaryAsync(r => r.RequestId, ct);
        foreach (var request in requests.Values)
            request.ProviderJob = job;
        var attempts = await db.Attempts.Where(a => db.Attempts.Any(mine => mine.JobId == job.Id && mine.RequestId == a.RequestId)).ToListAsync(ct);
        return new JobWork(job, requests, attempts.ToLookup(a => a.RequestId));
    }

    /// <summary>Completes a lead of the job; false when its request or its attempt on this job had already ended.</summary>
    public bool Complete(JobWork work, Guid requestId, LeadResult result) =>
        work.Requests.TryGetValue(requestId, out var request)
        && request.ProviderJobId == work.Job.Id
        && completion.Complete(request, result.ToCompletion(), work.AttemptsOf(requestId));

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
