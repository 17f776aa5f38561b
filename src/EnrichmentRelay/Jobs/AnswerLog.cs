using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Jobs;

/// <summary>Keeps what providers answered, linked to the jobs the answers were read for; staged in the caller's unit of work.</summary>
public static class AnswerLog
{
    /// <summary>
    /// Stages <paramref name="answers"/>: one a reader marked as a job's is linked to that job (when it is one of
    /// <paramref name="jobs"/>), any other to every job of <paramref name="jobs"/>.
    /// </summary>
    public static void Add(RelayDbContext db, IEnumerable<CapturedAnswer> answers, IReadOnlyCollection<Guid> jobs)
    {
        foreach (var answer in answers)
        {
            var linked = answer.JobId is { } own ? (jobs.Contains(own) ? [own] : []) : jobs;
            if (linked.Count == 0)
                continue;
            var row = new ProviderAnswerRecord
            {
                Provider = answer.Provider, Endpoint = answer.Endpoint, Status = answer.Status, Body = answer.Body,
                Error = answer.Error, ReceivedAt = answer.At,
            };
            db.ProviderAnswers.Add(row);
            foreach (var job in linked)
                db.ProviderAnswerLinks.Add(new ProviderAnswerLink { Answer = row, JobId = job });
        }
    }
}
