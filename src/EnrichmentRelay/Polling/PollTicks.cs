using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Polling;

/// <summary>One poll per provider per tick, however many instances publish it: the first to store the tick's key runs it.</summary>
public static class PollTicks
{
    public static async Task<bool> TryClaimAsync(RelayDbContext db, string schedule, long tick, DateTimeOffset now, CancellationToken ct)
    {
        var key = $"poll:{schedule}:{tick}";
        if (await db.Inbox.AnyAsync(i => i.Key == key, ct))
            return false;
        db.Inbox.Add(new InboxEntry { Key = key, ProcessedAt = now });
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear();
            return false; // another instance claimed it between our check and our insert
        }
    }

    /// <summary>
    /// What every scheduled consumer does: claim the tick, run the poll, and log a failure instead of
    /// throwing (a poll command is worth nothing after its tick; the next tick polls again).
    /// </summary>
    public static async Task RunOnceAsync(RelayDbContext db, string schedule, long tick, TimeProvider time, RelayMetrics metrics, ILogger logger,
        Func<CancellationToken, Task> poll, CancellationToken ct)
    {
        if (!await TryClaimAsync(db, schedule, tick, time.GetUtcNow(), ct))
            return;
        // The schedule is named after its provider: the poll's HTTP calls count as that provider's poll requests.
        using var run = metrics.Polling(schedule);
        try
        {
            await poll(ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            run.Failed();
            logger.LogWarning(ex, "The {Schedule} poll for tick {Tick} failed; the next tick polls again", schedule, tick);
        }
    }
}
