using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Jobs;

/// <summary>The rules every provider's jobs follow when the provider's answer is missing, written once.</summary>
public static class JobRules
{
    /// <summary>
    /// Takes over a job found orphaned (still <c>Submitting</c> past <see cref="SubmitCalls.OrphanWindow"/>; the save checks
    /// the job's Version, so a submit that starts meanwhile wins and this is discarded). A job whose POST never left goes
    /// back in line: nothing was sent, no attempt was made, and its submit, should it still be waiting somewhere, will
    /// see the job is gone and send nothing. One whose POST left has an unknown fate: true, reconcile it with the provider.
    /// </summary>
    public static bool TakeOverOrphan(RelayDbContext db, JobResults.JobWork work, DateTimeOffset now, ILogger logger)
    {
        var job = work.Job;
        if (job.SubmitStartedAt is not null)
        {
            job.State = ProviderJobState.SubmitUnknown;
            logger.LogWarning("Job {JobName} was cut off before its submit's answer was recorded; reconciling it with {Provider}", job.Name, job.Provider);
            return true;
        }
        var open = work.Open.ToList();
        job.State = ProviderJobState.Refused;
        job.CompletedAt = now;
        job.LastError = "Its submit never left (the instance stopped while it waited its turn); its leads were queued again.";
        foreach (var request in open)
        {
            db.Attempts.RemoveRange(work.AttemptsOf(request.RequestId).Where(a => a.JobId == job.Id));
            request.ReturnToWaiting();
        }
        logger.LogWarning("Job {JobName} never started its submit to {Provider}; its {Count} leads wait for the next batch", job.Name, job.Provider, open.Count);
        return false;
    }

    /// <summary>
    /// A lost submit the provider still does not show once it has had <see cref="PollPolicy.ReconcileAfter"/>: parked for
    /// an operator (resend or fail: <c>/admin/jobs</c>), or, for a provider whose documented listing proves absence (or
    /// that dedupes a resend), its leads go again and its attempts end.
    /// </summary>
    public static void Unfound(RelayDbContext db, JobResults.JobWork work, PollPolicy policy, DateTimeOffset now, ILogger logger)
    {
        var job = work.Job;
        var open = work.Open.ToList();
        if (policy.Unfound == UnfoundSubmits.Resend)
        {
            job.State = ProviderJobState.Refused;
            job.CompletedAt = now;
            job.LastError = $"Not found at {job.Provider} {policy.ReconcileAfter} after a submit whose answer was lost; its leads were queued again.";
            Resend(work, open, now, $"{job.Provider} did not show this submit {policy.ReconcileAfter} after it was sent; the lead was sent again.");
            logger.LogWarning("Job {JobName} was not found at {Provider}; its {Count} leads will be submitted again", job.Name, job.Provider, open.Count);
            return;
        }
        job.State = ProviderJobState.NeedsAttention;
        job.LastError = $"The submit's answer was lost and {job.Provider} did not show the job within {policy.ReconcileAfter}; " +
                        $"sending it again could charge twice. Resend or fail its requests: POST /admin/jobs/{job.Id}/resend or /fail.";
        logger.LogError("Job {JobName} needs attention: its submit's answer was lost and {Provider} does not show it; its {Count} requests wait " +
                        "for an operator (POST /admin/jobs/{JobId}/resend or /fail)", job.Name, job.Provider, open.Count, job.Id);
    }

    /// <summary>Ends the leads' attempts on the job (superseded) and puts them back in line for a new job.</summary>
    public static void Resend(JobResults.JobWork work, IEnumerable<EnrichmentRequestRecord> open, DateTimeOffset now, string why)
    {
        foreach (var request in open)
        {
            foreach (var attempt in work.AttemptsOf(request.RequestId).Where(a => a.JobId == work.Job.Id && a.IsOpen))
            {
                attempt.CompletedAt = now;
                attempt.Outcome = Contracts.Outcome.Failed;
                attempt.Detail = why;
            }
            request.ReturnToWaiting();
        }
    }
}
