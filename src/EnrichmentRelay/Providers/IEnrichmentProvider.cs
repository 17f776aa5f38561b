using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers;

// The contract between the job engine (Jobs/) and the vendor adapters (Providers/<Vendor>/). An adapter builds and
// sends a submit, reads the vendor's state of open jobs, and translates what it read into per-request results. It
// never touches the ledger: the engine records intents, answers, results, deadlines and every job's fate.

/// <summary>One submit call of a provider (a lane): what routing and the batch flusher need from it.</summary>
public interface IEnrichmentProvider
{
    ProviderName Name { get; }

    /// <summary>
    /// The provider's submit call this object makes; a provider with two kinds of submit (Woodpecker: leads and
    /// prospects) registers one object per lane, each batched on its own.
    /// </summary>
    string Lane { get; }

    /// <summary>Null when this lane can work with the request, else the reason it cannot.</summary>
    string? WhyCannotServe(EnrichmentRequested request);

    /// <summary>Most leads the provider takes in one submit call.</summary>
    int MaxBatchSize { get; }

    /// <summary>How long the oldest waiting request may wait for its batch to fill.</summary>
    TimeSpan FlushWindow { get; }

    /// <summary>
    /// Submits one batch. Called after the job (the intent) is committed. Must not retry a POST whose fate is unknown:
    /// answer <see cref="SubmitStatus.Unknown"/> instead.
    /// </summary>
    Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct);
}

/// <summary>
/// Reads one provider's open jobs and translates its answers into results. One per provider; the engine's poll (on the
/// provider's tick) hands it the jobs that are due, and applies what it returns job by job.
/// </summary>
public interface IJobReader
{
    ProviderName Provider { get; }

    /// <summary>How a provider's jobs are polled and given up on.</summary>
    PollPolicy Policy { get; }

    /// <summary>
    /// Reads the vendor's state of <paramref name="jobs"/> and says, per job, what became of it and of its leads.
    /// A job whose own reading failed gets a <see cref="JobReading.Error"/>; the others must still be read: one
    /// failure stays with its job.
    /// </summary>
    Task<IReadOnlyList<JobReading>> ReadAsync(IReadOnlyList<OpenJob> jobs, CancellationToken ct);

    /// <summary>After a reading of <paramref name="job"/> completed requests: the reader's own accounting (Precept counts them as rescued).</summary>
    void Completed(OpenJob job, int requests)
    {
    }
}

/// <summary>What a reader may ask of the relay's own jobs (answered by the engine from the ledger).</summary>
public interface IJobDirectory
{
    /// <summary>The provider ids of the relay's jobs created in [<paramref name="from"/>, <paramref name="to"/>], but <paramref name="except"/>.</summary>
    Task<IReadOnlySet<string>> ExternalIdsAsync(ProviderName provider, DateTimeOffset from, DateTimeOffset to, Guid except, CancellationToken ct);

    /// <summary>Whether one of the relay's jobs is the provider's <paramref name="externalId"/> (a batch it submitted itself).</summary>
    Task<bool> HoldsAsync(ProviderName provider, string externalId, CancellationToken ct);
}

/// <summary>
/// A lock every instance of the relay sharing its ledger agrees on, for a provider that must see one call at a time from
/// the whole relay (Woodpecker). Implemented by the engine, which knows whether other instances share the ledger.
/// </summary>
public interface ICrossInstanceLock
{
    /// <summary>
    /// Waits until this instance holds <paramref name="key"/> (a fixed 64-bit number the caller chooses); disposing the
    /// result releases it. Null when no other instance can be running (one instance alone on SQLite).
    /// </summary>
    Task<IAsyncDisposable?> TakeAsync(long key, CancellationToken ct);

    /// <summary>
    /// Takes <paramref name="key"/> unless another instance holds it: the lock (disposing it releases it), or null when
    /// another instance holds it. Where no other instance can be running, a lock that keeps nobody out.
    /// </summary>
    Task<IAsyncDisposable?> TryTakeAsync(long key, CancellationToken ct);
}

/// <summary>How the engine polls a provider and what it does when the provider does not show a lost submit.</summary>
/// <param name="Schedule">The poll's name (its tick key, queue <c>poll-{Schedule}</c>, metrics' provider tag).</param>
/// <param name="Interval">The poll's tick.</param>
/// <param name="FirstReadAfter">How long after its submit a job is first read (Precept: the callback grace).</param>
/// <param name="Deadline">After this an open lead is past its deadline: the reader's last word, or <c>timedOut</c>.</param>
/// <param name="RequestTimeout">The provider's call timeout: a submit lasts at most the pipeline's 3 × this.</param>
/// <param name="ReconcileAfter">How long after its POST left a lost submit may stay unfound before <see cref="Unfound"/> applies.</param>
/// <param name="Unfound">What then: park the job for an operator, or send its leads again.</param>
/// <param name="NextReadIn">When a job that is still open is read again, by its age (back-off for old jobs).</param>
public sealed record PollPolicy(
    string Schedule,
    TimeSpan Interval,
    TimeSpan FirstReadAfter,
    TimeSpan Deadline,
    TimeSpan RequestTimeout,
    TimeSpan ReconcileAfter,
    UnfoundSubmits Unfound,
    Func<TimeSpan, TimeSpan> NextReadIn);

public enum UnfoundSubmits
{
    /// <summary>The provider documents no way to prove absence: an operator decides (resend or fail).</summary>
    Park,
    /// <summary>The provider's documented listing proves absence (or dedupes a resend): the leads go again.</summary>
    Resend,
}

/// <summary>What an adapter's submit needs: the job it is, where callbacks go, and the leads.</summary>
/// <param name="CallbackUrl">The job's own webhook address (with its secret token); null for polled providers.</param>
public sealed record SubmitCall(Guid JobId, string JobName, Uri? CallbackUrl, IReadOnlyList<PendingLead> Leads);

public sealed record PendingLead(Guid RequestId, EnrichmentRequested Request);

/// <summary>A lead of an open job: the request, and what the provider tracks for it between submit and end.</summary>
/// <param name="Ended">It has its result already (an earlier reading, a callback): there only to recognise a repeat of it.</param>
public sealed record OpenLead(Guid RequestId, EnrichmentRequested Request, string? ProviderState, DateTimeOffset SubmittedAt, bool Ended = false);

/// <summary>An open job as a reader sees it.</summary>
/// <param name="Name">The unique name the relay gave the job (how a provider that takes names knows it).</param>
/// <param name="ExternalId">The provider's own id; null while a lost submit is not found again.</param>
/// <param name="SubmitAnswer">What the provider said of the submit (Woodpecker's PARTIALLY_ENQUEUED, …).</param>
/// <param name="SentAt">When the provider may first have seen it: its POST's start.</param>
/// <param name="FateUnknown">The submit's answer was lost (or never recorded): find the job before anything else.</param>
/// <param name="PastDeadline">Its leads are past the provider's deadline: this is the reader's last word on them.</param>
/// <param name="Leads">Every lead of the job, those already ended included (<see cref="OpenLead.Ended"/>).</param>
public sealed record OpenJob(
    Guid Id,
    string Name,
    string Lane,
    string? ExternalId,
    string? SubmitAnswer,
    DateTimeOffset CreatedAt,
    DateTimeOffset SentAt,
    DateTimeOffset? SubmittedAt,
    bool FateUnknown,
    bool PastDeadline,
    IReadOnlyList<OpenLead> Leads);

/// <summary>A lead's end, as the provider's answer translates.</summary>
public sealed record LeadResult(
    Outcome Outcome,
    IReadOnlyList<string>? Emails = null,
    IReadOnlyList<string>? Phones = null,
    string? Detail = null,
    decimal? CreditsCharged = null);

/// <summary>What a reader learnt of one job.</summary>
public sealed record JobReading(Guid JobId)
{
    /// <summary>A lost submit found at the provider under this id (or the provider's id learnt later).</summary>
    public string? FoundAs { get; init; }

    /// <summary>The reader looked for a lost submit and the provider did not show it (yet): the policy decides when that counts.</summary>
    public bool NotFound { get; init; }

    /// <summary>Leads that ended.</summary>
    public IReadOnlyDictionary<Guid, LeadResult> Completed { get; init; } = new Dictionary<Guid, LeadResult>();

    /// <summary>Leads whose provider state changed (still open, or ending).</summary>
    public IReadOnlyDictionary<Guid, string> ProviderStates { get; init; } = new Dictionary<Guid, string>();

    /// <summary>What the whole job cost, for a provider that reports it per job (Precept's <c>cost.credits</c>).</summary>
    public decimal? JobCredits { get; init; }

    /// <summary>Reading this job failed: nothing of it is applied, it is read again after a back-off.</summary>
    public string? Error { get; init; }
}

public enum SubmitStatus
{
    /// <summary>The provider took the job; some leads may already be complete (credit cap).</summary>
    Accepted,
    /// <summary>The provider refused the whole call; every lead is completed from the result.</summary>
    Refused,
    /// <summary>Proven that nothing was done (connection refused, 429, 503): the leads may be submitted again.</summary>
    NotSent,
    /// <summary>The call may have been processed: reconcile with the provider before doing anything else.</summary>
    Unknown,
}

/// <param name="PauseReason">
/// Set when the provider refused the relay itself (its key, or its address) rather than the leads: the provider is
/// paused and the leads wait (<see cref="ProviderPauses"/>).
/// </param>
/// <param name="Bisectable">
/// Set on a refusal of the whole call for something in its input (a 400): the provider did nothing, so the batch is
/// split and sent again until the leads it refuses are found; only those are rejected.
/// </param>
public sealed record SubmitResult(
    SubmitStatus Status,
    string? ExternalJobId = null,
    string? Detail = null,
    IReadOnlyDictionary<Guid, LeadResult>? Completed = null,
    string? ProviderStatus = null,
    IReadOnlyDictionary<Guid, string>? ProviderState = null,
    TimeSpan? RetryAfter = null,
    string? PauseReason = null,
    bool Bisectable = false)
{
    public IReadOnlyDictionary<Guid, LeadResult> CompletedLeads => Completed ?? new Dictionary<Guid, LeadResult>();
}
