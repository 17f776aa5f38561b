using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// The safety net behind the webhook, as the engine's reader for Precept: a job whose callback is overdue (older than
/// the grace) is read with <c>GET /v1/jobs/{id}</c> and, once it ended, its results are what the sweep rescues; a job
/// whose submit answer was lost is looked for at Precept first (<see cref="PreceptJobFinder"/>). A job not shown is
/// parked for an operator by default: Precept documents no way to prove a job does not exist.
/// </summary>
public sealed class PreceptJobReader(
    PreceptClient client,
    PreceptJobFinder finder,
    IOptions<PreceptOptions> options,
    RelayMetrics metrics,
    ILogger<PreceptJobReader> logger) : IJobReader
{
    PreceptOptions Options => options.Value;

    public ProviderName Provider => ProviderName.Precept;

    public PollPolicy Policy => new(
        Schedule: RelayMetrics.Tag(ProviderName.Precept),
        Interval: Options.SweepInterval,
        FirstReadAfter: Options.CallbackGrace,
        Deadline: Options.Deadline,
        RequestTimeout: Options.RequestTimeout,
        ReconcileAfter: Options.ReconcileAfter,
        Unfound: Options.ResendUnfoundSubmits ? UnfoundSubmits.Resend : UnfoundSubmits.Park,
        NextReadIn: _ => Options.SweepInterval);

    public async Task<IReadOnlyList<JobReading>> ReadAsync(IReadOnlyList<OpenJob> jobs, CancellationToken ct)
    {
        var readings = new List<JobReading>();
        foreach (var job in jobs)
        {
            using var answers = ProviderAnswers.ForJob(job.Id);
            try
            {
                readings.Add(await ReadAsync(job, ct));
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // One job's failing read leaves the others of the sweep to go on; it is read again after a back-off.
                readings.Add(new JobReading(job.Id) { Error = $"{ex.GetType().Name}: {ex.Message}" });
            }
        }
        return readings;
    }

    async Task<JobReading> ReadAsync(OpenJob job, CancellationToken ct)
    {
        var id = job.ExternalId;
        if (id is null && job.FateUnknown)
        {
            id = await finder.FindAsync(job, SubmitCalls.OrphanWindow(Options.RequestTimeout), ct);
            if (id is null)
                return new JobReading(job.Id) { NotFound = true };
        }
        if (id is null)
            return new JobReading(job.Id);
        using var read = await client.GetJobAsync(id, ct);
        if (read is null)
            return new JobReading(job.Id) { FoundAs = id };
        var report = PreceptJobReport.Read(read.RootElement);
        // Until the job ends, a status read carries no results: the final callback or a later sweep brings them.
        return report.IsCompleted || report.IsFailed
            ? PreceptTranslation.Reading(job, report, logger, Options.PhoneFormat) with { FoundAs = id }
            : new JobReading(job.Id) { FoundAs = id };
    }

    /// <summary>What a sweep completes, a callback did not: counted as rescued.</summary>
    public void Completed(OpenJob job, int requests)
    {
        logger.LogWarning("Rescued {Count} requests of Precept job {JobName}: its callback never came", requests, job.Name);
        metrics.CallbacksRescued(ProviderName.Precept, requests);
    }
}
