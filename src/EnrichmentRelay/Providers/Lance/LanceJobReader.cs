using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// The engine's reader for Lance: the open tasks of every due job are read together, keyed by (person, field), 200 a
/// query; the unsent ones are looked up and sent (Lance reuses existing records, free); and each request whose tasks
/// are all terminal ends, with the contacts read from its person. Tasks the query never mentions stay open until the
/// deadline, when this read gives their last word.
/// </summary>
/// <remarks>
/// A lost bulk answer (a submit cut off, a call that timed out) is reconciled here, task by task: before anything is
/// sent again Lance is asked what it holds, and a record made since the submit is the one the lost call made (ours,
/// charged to this request). So this reader never reports a job as not found, and <see cref="PollPolicy.Unfound"/>
/// never applies; were it to, sending again is what Lance dedupes. Lance has no job of its own: a job whose submit's
/// answer was lost stays so until its leads end.
/// </remarks>
public sealed class LanceJobReader(LanceTasks lance, IOptions<LanceOptions> options) : IJobReader
{
    LanceOptions Options => options.Value;

    public ProviderName Provider => ProviderName.Lance;

    public PollPolicy Policy => new(
        Schedule: RelayMetrics.Tag(ProviderName.Lance),
        Interval: Options.PollInterval,
        // A task whose bulk call failed at submit is looked up and sent by the very next poll.
        FirstReadAfter: TimeSpan.Zero,
        Deadline: Options.Deadline,
        RequestTimeout: Options.RequestTimeout,
        ReconcileAfter: SubmitCalls.OrphanWindow(Options.RequestTimeout),
        Unfound: UnfoundSubmits.Resend,
        // Every open task is asked about on every tick: one query covers 200 of them, whatever their jobs.
        NextReadIn: _ => TimeSpan.Zero);

    public async Task<IReadOnlyList<JobReading>> ReadAsync(IReadOnlyList<OpenJob> jobs, CancellationToken ct)
    {
        var readings = new List<JobReading>();
        var open = new List<(OpenJob Job, List<(OpenLead Lead, LanceTaskSet Set)> Leads)>();
        foreach (var job in jobs)
        {
            try
            {
                open.Add((job, job.Leads.Where(l => !l.Ended).Select(l => (l, TaskSet(job, l))).ToList()));
            }
            catch (Exception ex) when (ex is JsonException or InvalidDataException)
            {
                // A request this reader cannot make sense of is its job's failure, not the poll's.
                readings.Add(new JobReading(job.Id) { Error = $"A request of this job cannot be read as Lance tasks: {ex.Message}" });
            }
        }
        var sets = open.SelectMany(j => j.Leads.Select(l => l.Set)).ToList();

        // Sent ones first: what is sent below is fresh and needs no query this round.
        await lance.RefreshAsync(sets, ct);
        foreach (var set in sets.Where(s => s.PastDeadline))
            EndAtDeadline(set);
        await lance.SendAsync(sets, ct);
        var results = await lance.CompleteAsync(sets, ct);
        readings.AddRange(open.Select(j => Reading(j.Job, j.Leads, results)));
        return readings;
    }

    static LanceTaskSet TaskSet(OpenJob job, OpenLead lead)
    {
        // No state recorded: the submit was cut off before its answer was, and may have reached Lance.
        var tasks = lead.ProviderState is null
            ? LanceTasks.Initial(lead.Request, oursIfCreatedAfter: lead.SubmittedAt - LanceTasks.ClockSkewAllowance)
            : LanceTasks.Read(lead.ProviderState);
        var personId = lead.Request.Lead?.LancePersonId ?? throw new InvalidDataException($"Request {lead.RequestId} has no lancePersonId.");
        return new LanceTaskSet(personId, tasks) { JobId = job.Id, PastDeadline = job.PastDeadline };
    }

    /// <summary>The deadline's last word on a task still open: timed out, saying whether Lance ever had it.</summary>
    void EndAtDeadline(LanceTaskSet set)
    {
        var hours = Options.Deadline.TotalHours;
        foreach (var (field, task) in set.Tasks.Where(t => !t.Value.IsTerminal).ToList())
            set.Tasks[field] = task with
            {
                Outcome = Outcome.TimedOut,
                Error = task.Status == LanceTask.Unsent
                    ? $"the relay could not send it to Lance within {hours:0.#} h"
                    : $"Lance had not finished it {hours:0.#} h after the submit",
            };
    }

    /// <summary>
    /// One job's reading. A job whose reads failed and that got no further is a failed read (the engine reads it again
    /// after a back-off, and after too many makes it a dead letter); one that got further keeps what it learnt, above
    /// all what its bulk calls made, and its failed reads are asked again on the next tick. Past the deadline the
    /// reading is the last word, whatever failed.
    /// </summary>
    static JobReading Reading(OpenJob job, List<(OpenLead Lead, LanceTaskSet Set)> leads, IReadOnlyDictionary<LanceTaskSet, LeadResult> results)
    {
        var completed = leads.Where(l => results.ContainsKey(l.Set)).ToDictionary(l => l.Lead.RequestId, l => results[l.Set]);
        var states = leads.Select(l => (l.Lead, State: LanceTasks.Write(l.Set.Tasks)))
            .Where(l => l.State != l.Lead.ProviderState)
            .ToDictionary(l => l.Lead.RequestId, l => l.State);
        var failures = leads.Select(l => l.Set.Failure).OfType<string>().ToList();
        if (failures.Count > 0 && completed.Count == 0 && states.Count == 0 && !job.PastDeadline)
            return new JobReading(job.Id)
            {
                Error = failures.Count == 1 ? failures[0] : $"{failures[0]} (and the reads of {failures.Count - 1} more of its requests)",
            };
        return new JobReading(job.Id) { Completed = completed, ProviderStates = states };
    }
}
