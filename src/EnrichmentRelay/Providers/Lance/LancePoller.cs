using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// One poll of Lance's open tasks: unsent ones are sent again (Lance reuses existing records, free),
/// pending ones are queried 200 at a time keyed by (person, field), and requests whose tasks are all
/// terminal complete. Tasks the query never mentions stay open until the relay's deadline.
/// </summary>
public sealed class LancePoller(
    RelayDbContext db,
    RequestCompletion completion,
    LanceClient client,
    IOptions<LanceOptions> options,
    TimeProvider time,
    ILogger<LancePoller> logger)
{
    const int MaxRequestsPerPoll = 20_000;

    public async Task PollAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var requests = await db.Requests
            .Include(r => r.ProviderJob)
            .Where(r => r.State == RequestState.Submitted && r.Lane == LanceTasks.Lane)
            .OrderBy(r => r.SubmittedAt)
            .Take(MaxRequestsPerPoll)
            .ToListAsync(ct);
        if (requests.Count == 0)
        {
            // A selection whose summary lost a race with another writer is still finished here.
            await LanceSelections.FinishCompletedAsync(db, time, ct);
            return;
        }

        var open = requests.Select(r =>
        {
            var request = LedgerViews.ReadRequest(r);
            var tasks = r.ProviderState is null ? LanceTasks.Initial(request) : LanceTasks.Read(r);
            return (Record: r, PersonId: request.Lead!.LancePersonId!, Tasks: tasks);
        }).ToList();

        foreach (var (record, _, tasks) in open.Where(o => now - (o.Record.SubmittedAt ?? o.Record.AcceptedAt) >= options.Value.Deadline))
            foreach (var (field, task) in tasks.Where(t => !t.Value.IsTerminal).ToList())
                tasks[field] = task with
                {
                    Outcome = Outcome.TimedOut,
                    Error = $"Lance had not finished it {options.Value.Deadline.TotalHours:0.#} h after the submit",
                };

        // Ask before sending: a task we think unsent may have reached Lance (an answer lost, or a submit still
        // being recorded). A record found is adopted; only tasks Lance has no record of are sent (again).
        var unsent = Tasks(open, t => t.Status == LanceTask.Unsent);
        await QueryAsync(unsent, ct);
        foreach (var field in LanceTasks.LanceFields)
        {
            var toSend = open.Where(o => o.Tasks.TryGetValue(field, out var t) && t.Status == LanceTask.Unsent)
                .Select(o => (o.PersonId, o.Tasks)).ToList();
            if (toSend.Count > 0)
                await LanceTasks.SendAsync(client, field, toSend, logger, ct);
        }

        var pending = Tasks(open, t => !t.IsTerminal && t.Status != LanceTask.Unsent);
        await QueryAsync(pending, ct);

        var people = new Dictionary<string, LancePerson?>();
        foreach (var (record, personId, tasks) in open)
        {
            var state = LanceTasks.Write(tasks);
            if (state != record.ProviderState)
            {
                record.ProviderState = state;
                record.Version++;
            }
            if (await LanceTasks.CompleteAsync(client, personId, tasks, people, ct) is { } result)
                completion.Complete(record, result);
        }
        await completion.SaveAsync(ct);
        await LanceSelections.FinishCompletedAsync(db, time, ct);
        logger.LogDebug("Lance poll: {Open} open requests, {Unsent} unsent and {Pending} pending tasks", open.Count, unsent.Count, pending.Count);
    }

    static ILookup<(string PersonId, string Field), Dictionary<string, LanceTask>> Tasks(
        IEnumerable<(EnrichmentRequestRecord Record, string PersonId, Dictionary<string, LanceTask> Tasks)> open, Func<LanceTask, bool> which) =>
        open.SelectMany(o => o.Tasks.Where(t => which(t.Value)).Select(t => (Key: (o.PersonId, Field: t.Key), o.Tasks)))
            .ToLookup(x => x.Key, x => x.Tasks);

    /// <summary>Queries the tasks 200 at a time and records the latest state Lance has for each.</summary>
    async Task QueryAsync(ILookup<(string PersonId, string Field), Dictionary<string, LanceTask>> tasks, CancellationToken ct)
    {
        foreach (var chunk in tasks.Select(g => g.Key).Chunk(LanceOptions.MaxTasksPerQuery))
        {
            // Keyed by (person, field), not by enrichment id: a re-submit may have produced a newer record.
            foreach (var latest in (await client.QueryAsync(chunk, ct))
                         .GroupBy(e => (e.EntityId.ToLowerInvariant(), e.Field))
                         .Select(g => g.OrderByDescending(e => e.UpdatedAt).First()))
            {
                var key = chunk.FirstOrDefault(k => k.PersonId.Equals(latest.EntityId, StringComparison.OrdinalIgnoreCase) && k.Field == latest.Field);
                if (key == default)
                    continue;
                foreach (var taskSet in tasks[key])
                    taskSet[key.Field] = LanceTask.From(latest);
            }
        }
    }
}
