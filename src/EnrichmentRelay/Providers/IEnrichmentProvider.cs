using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;

namespace EnrichmentRelay.Providers;

/// <summary>
/// What routing and the batch flusher need from a provider; vendor details stay in its folder.
/// </summary>
public interface IEnrichmentProvider
{
    ProviderName Name { get; }

    /// <summary>
    /// The provider's submit call this provider object makes; a provider with two kinds of submit
    /// (Woodpecker: leads and prospects) registers one object per lane, each batched on its own.
    /// </summary>
    string Lane { get; }

    /// <summary>Null when this lane can work with the request, else the reason it cannot.</summary>
    string? WhyCannotServe(EnrichmentRequested request);

    /// <summary>Most leads the provider takes in one submit call.</summary>
    int MaxBatchSize { get; }

    /// <summary>How long the oldest waiting request may wait for its batch to fill.</summary>
    TimeSpan FlushWindow { get; }

    /// <summary>
    /// Submits one batch. Called after the job row (the intent) is committed. Must not retry a POST
    /// whose fate is unknown: answer <see cref="SubmitStatus.Unknown"/> instead. <paramref name="callbackToken"/>
    /// is the job's secret for a callback URL (its hash is already stored); providers that only poll ignore it.
    /// </summary>
    Task<SubmitResult> SubmitAsync(ProviderJobRecord job, string callbackToken, IReadOnlyList<PendingLead> leads, CancellationToken ct);
}

public sealed record PendingLead(Guid RequestId, EnrichmentRequested Request);

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
    IReadOnlyDictionary<Guid, CompletionResult>? Completed = null,
    string? ProviderStatus = null,
    IReadOnlyDictionary<Guid, string>? ProviderState = null,
    TimeSpan? RetryAfter = null,
    string? PauseReason = null,
    bool Bisectable = false)
{
    public IReadOnlyDictionary<Guid, CompletionResult> CompletedLeads => Completed ?? new Dictionary<Guid, CompletionResult>();
}
