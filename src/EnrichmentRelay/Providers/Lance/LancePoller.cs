using EnrichmentRelay.Jobs;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// One poll of Lance's open tasks: the ones sent are queried 200 at a time keyed by (person, field), the unsent ones
/// are looked up and sent (Lance reuses existing records, free), and requests whose tasks are all terminal complete.
/// Tasks the query never mentions stay open until the relay's deadline.
/// </summary>
public sealed class LancePoller(
    RelayDbContext db,
    RequestCompletion completion,
    LanceTasks lance,
    ProviderPauses pauses,
    IOptions<LanceOptions> options,
    TimeProvider time,
    ILogger<LancePoller> logger)
{
    const int MaxRequestsPerPoll = 20_000;

    public async Task PollAsync(CancellationToken ct)
    {
        // A paused Lance (its key refused) rests until its next probe; this poll may be that probe.
        if (pauses.Holds(ProviderName.Lance))
            return;
        var now = time.GetUtcNow();
        // A submit under way owns its requests until its answer is recorded; one cut off before that is the poll's.
        var orphaned = now - SubmitCalls.OrphanWindow(options.Value.RequestTimeout);
        var requests = await db.Requests
            .Include(r => r.ProviderJob)
            .Where(r => r.State == RequestState.Submitted && r.Lane == LanceTasks.Lane)
            .Where(r => r.ProviderJob == null || r.ProviderJob.State != ProviderJobState.Submitting
                        || (r.ProviderJob.SubmitStartedAt != null ? r.ProviderJob.SubmitStartedAt <= orphaned : r.ProviderJob.CreatedAt <= orphaned))
            .OrderBy(r => r.SubmittedAt)
            .Take(MaxRequestsPerPoll)
            .ToListAsync(ct);
        if (requests.Count == 0)
        {
            // A selection whose last person completed without its summary (a writer cut off, a lost race) ends here.
            await LanceSelections.FinishCompletedAsync(db, time, ct);
            return;
        }

        var open = requests.Select(r =>
        {
            var request = LedgerViews.ReadRequest(r);
            var submittedAt = r.SubmittedAt ?? r.AcceptedAt;
            // No state recorded: the submit was cut off, and may have reached Lance.
            var tasks = r.ProviderState is null
                ? LanceTasks.Initial(request, oursIfCreatedAfter: submittedAt - LanceTasks.ClockSkewAllowance)
                : LanceTasks.Read(r);
            return (Record: r, Set: new LanceTaskSet(request.Lead!.LancePersonId!, tasks) { PastDeadline = now - submittedAt >= options.Value.Deadline });
        }).ToList();
        var sets = open.Select(o => o.Set).ToList();

        // Sent ones first: what is sent below is fresh and needs no query this round.
        await lance.RefreshAsync(sets, ct);
        foreach (var set in sets.Where(s => s.PastDeadline))
            foreach (var (field, task) in set.Tasks.Where(t => !t.Value.IsTerminal).ToList())
                set.Tasks[field] = task with
                {
                    Outcome = Outcome.TimedOut,
                    Error = task.Status == LanceTask.Unsent
                        ? $"the relay could not send it to Lance within {options.Value.Deadline.TotalHours:0.#} h"
                        : $"Lance had not finished it {options.Value.Deadline.TotalHours:0.#} h after the submit",
                };
        await lance.SendAsync(sets, ct);
        var results = await lance.CompleteAsync(sets, ct);

        foreach (var (record, set) in open)
        {
            var state = LanceTasks.Write(set.Tasks);
            if (state != record.ProviderState)
            {
                record.ProviderState = state;
                record.Version++;
            }
            if (results.TryGetValue(set, out var result))
                completion.Complete(record, result.ToCompletion());
        }
        await completion.SaveAsync(ct);
        await LanceSelections.FinishCompletedAsync(db, time, ct);
        logger.LogDebug("Lance poll: {Open} open requests, {Completed} completed", open.Count, results.Count);
    }
}
