using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// Looks for the Precept job a submit created when its answer was lost, using only what Precept documents or has been
/// seen to do: <c>GET /v1/jobs</c> (shape, paging and filters undocumented: read tolerantly, paged for as long as it
/// shows new jobs of the submit's time) and <c>GET /v1/jobs/{id}</c> for the candidates whose name the list does not
/// show. A job is ours only on evidence (<see cref="PreceptResultMatcher.IsJobOf"/>); nothing found is no proof of
/// absence, so the caller never sends again on it. One finder serves one sweep: what it read is read once.
/// </summary>
public sealed class PreceptJobFinder(IJobDirectory directory, PreceptClient client, ILogger<PreceptJobFinder> logger)
{
    const int MaxPages = 20;
    const int MaxReadsPerJob = 20;
    /// <summary>Clocks differ: a job's creation time at Precept is compared with ours this loosely.</summary>
    static readonly TimeSpan ClockSlack = TimeSpan.FromMinutes(2);

    readonly Dictionary<string, PreceptJobReport?> reads = [];

    /// <summary>The Precept id of the job <paramref name="job"/>'s submit created, or null while there is no evidence of one.</summary>
    public async Task<string?> FindAsync(OpenJob job, TimeSpan orphanWindow, CancellationToken ct)
    {
        var from = job.SentAt - ClockSlack;
        var to = job.SentAt + orphanWindow + ClockSlack;
        // Precept jobs another of our jobs already holds are not this one's.
        var taken = await directory.ExternalIdsAsync(Contracts.ProviderName.Precept, from - orphanWindow, to, job.Id, ct);

        var seen = new HashSet<string>();
        var candidates = new List<string>();
        string? next = null;
        for (var page = 1; page <= MaxPages; page++)
        {
            var list = await client.ListJobsAsync(job.Name, page, next, ct);
            var fresh = list.Jobs.Where(j => seen.Add(j.Id)).ToList();
            if (fresh.Count == 0)
                break; // an empty page, or the same page again: the listing ignores paging
            foreach (var listed in fresh)
            {
                if (listed.Name == job.Name)
                    return listed.Id;
                if (listed.Name is not null || taken.Contains(listed.Id))
                    continue;
                if (listed.CreatedAt is not { } created || (created >= from && created <= to))
                    candidates.Add(listed.Id);
            }
            // Listings run newest first, as far as anything shows; a page wholly older than the submit ends the search.
            if (fresh.All(j => j.CreatedAt < from))
                break;
            next = list.Next;
        }

        foreach (var id in candidates.Take(MaxReadsPerJob))
        {
            if (!reads.TryGetValue(id, out var report))
            {
                using var read = await client.GetJobAsync(id, ct);
                reads[id] = report = read is null ? null : PreceptJobReport.Read(read.RootElement);
            }
            if (report is not null && PreceptResultMatcher.IsJobOf(report, job) == true)
                return id;
        }
        logger.LogDebug("Job {JobName} not found at Precept yet: {Listed} jobs listed, {Candidates} read", job.Name, seen.Count, candidates.Count);
        return null;
    }
}
