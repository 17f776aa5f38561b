using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// Reads of rows that stay a short while in a partial index, as the outbox's unsent rows do. On PostgreSQL such a read
/// must walk the index in its order. Its planner chose a bitmap scan instead whenever its statistics, gathered between
/// bursts, said few rows were unsent: that reads every entry of the index, those of rows sent since the last vacuum
/// included, and sorts all the rows before taking a round's worth; and unlike an index scan it never marks the dead
/// entries it met, so each read meets them all again (a backlog of 2,000 rows and 20,000 such entries: 5-120 ms a read).
/// Every statement run under it must have an index to walk for what it reads (by id, or the unsent rows' index): sorts and
/// whole-table scans are off too, and a statement that needs one gets the planner's costliest way around it instead (a
/// claim that read its rows with ORDER BY joined them to every row of the table).
/// </summary>
public static class QueueReads
{
    /// <summary>For the rest of the caller's transaction, which must be open: PostgreSQL only (SQLite has no bitmap scans).</summary>
    public static Task InIndexOrderAsync(RelayDbContext db, CancellationToken ct) => db.Database.IsNpgsql()
        ? db.Database.ExecuteSqlRawAsync("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off", ct)
        : Task.CompletedTask;
}
