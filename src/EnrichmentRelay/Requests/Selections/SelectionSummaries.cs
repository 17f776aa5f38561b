using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Requests.Selections;

/// <summary>
/// A selection's summary (<see cref="SelectionEnrichmentCompleted"/>), staged once every selected person has completed:
/// when the selection's job ends (told by the job engine, or by the intake when nobody was left open), and by
/// <see cref="SelectionSummarySweep"/> for one whose end was missed (its writer cut off between the two).
/// </summary>
public sealed class SelectionSummaries(RelayDbContext db, TimeProvider time, OutboxSignal outboxSignal) : IJobEndedHandler
{
    public async Task JobEndedAsync(Guid jobId, CancellationToken ct)
    {
        var selection = await db.Selections.SingleOrDefaultAsync(s => s.ProviderJobId == jobId && s.State == SelectionState.Submitted, ct);
        if (selection is not null)
            await FinishAsync(selection, ct);
    }

    /// <summary>The safety net: every selection whose job has ended and that has no summary yet. Returns how many it finished.</summary>
    public async Task<int> FinishEndedAsync(CancellationToken ct)
    {
        var ended = await db.Selections
            .Where(s => s.State == SelectionState.Submitted
                        && db.ProviderJobs.Any(j => j.Id == s.ProviderJobId && j.State == ProviderJobState.Completed))
            .ToListAsync(ct);
        var finished = 0;
        foreach (var selection in ended)
            if (await FinishAsync(selection, ct))
                finished++;
        return finished;
    }

    /// <summary>
    /// Stages and saves the selection's summary if all its persons have completed, on its own: several writers (the
    /// poll, the intake, the sweep of another instance) may finish the same selection at once, and the one that loses
    /// the race leaves it to the winner.
    /// </summary>
    async Task<bool> FinishAsync(SelectionRecord selection, CancellationToken ct)
    {
        var requests = await db.Requests.AsNoTracking().Where(r => r.ProviderJobId == selection.ProviderJobId)
            .Select(r => new { r.RequestId, r.State, r.Outcome }).ToListAsync(ct);
        if (requests.Any(r => r.State != RequestState.Completed))
            return false;
        var now = time.GetUtcNow();
        var message = JsonSerializer.Deserialize<SelectionEnrichmentRequested>(selection.RequestJson, RelayJson.Options)!;
        var outcomes = requests.GroupBy(r => r.Outcome!.Value)
            .ToDictionary(g => JsonNamingPolicy.CamelCase.ConvertName(g.Key.ToString()), g => g.Count());
        var summary = Summary(message, outcomes, requests.Select(r => r.RequestId).ToList(), null, null, selection.AcceptedAt, now)
            with { Selected = selection.Selected };
        selection.State = SelectionState.Completed;
        selection.CompletedAt = now;
        selection.Version++;
        var staged = db.Outbox.Add(OutboxRows.For(summary, summary.EventId, now));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Another writer finished this selection first, with its summary.
            staged.State = EntityState.Detached;
            await db.Entry(selection).ReloadAsync(ct);
            return false;
        }
        outboxSignal.Pulse();
        return true;
    }

    public static SelectionEnrichmentCompleted Summary(SelectionEnrichmentRequested message, Dictionary<string, int>? outcomes,
        IReadOnlyList<Guid> requestIds, Outcome? refused, string? detail, DateTimeOffset requestedAt, DateTimeOffset now) => new()
    {
        EventId = SelectionEnrichmentCompleted.EventIdFor(message.SelectionId),
        SelectionId = message.SelectionId,
        Field = message.Field,
        Refused = refused,
        Detail = detail,
        Selected = requestIds.Count,
        Outcomes = outcomes ?? [],
        RequestIds = requestIds,
        CorrelationData = message.CorrelationData ?? new Dictionary<string, string>(),
        RequestedAt = requestedAt,
        CompletedAt = now,
    };
}

/// <summary>
/// Finishes, on Lance's poll interval, the selections whose job ended without their summary (the instance that ended
/// it stopped before it could stage it). Safe with several instances doing it at once.
/// </summary>
public sealed class SelectionSummarySweep(IServiceScopeFactory scopes, IOptions<LanceOptions> options, TimeProvider time,
    ILogger<SelectionSummarySweep> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(options.Value.PollInterval, time, stoppingToken);
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var finished = await scope.ServiceProvider.GetRequiredService<SelectionSummaries>().FinishEndedAsync(stoppingToken);
                if (finished > 0)
                    logger.LogWarning("Finished {Count} selections whose summary was missed when their job ended", finished);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Finishing ended selections failed; trying again at the next interval");
            }
        }
    }
}
