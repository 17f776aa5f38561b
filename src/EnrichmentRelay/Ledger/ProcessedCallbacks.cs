using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Ledger;

/// <summary>How callbacks are marked processed, in one statement, on either engine.</summary>
public static class ProcessedCallbacks
{
    /// <summary>
    /// Sets ProcessedAt of <paramref name="callbacks"/> to <paramref name="at"/>; on SQLite giving up the room kept for it
    /// (<see cref="SqliteRelayDbContext.ProcessedRoom"/>), so the row keeps its size and its body is not written again.
    /// Returns how many rows changed.
    /// </summary>
    public static Task<int> MarkProcessedAsync(this IQueryable<ProviderCallbackRecord> callbacks, RelayDbContext db, DateTimeOffset at,
        CancellationToken ct) =>
        callbacks.ExecuteUpdateAsync(set =>
        {
            set.SetProperty(c => c.ProcessedAt, at);
            if (db is SqliteRelayDbContext)
                set.SetProperty(c => EF.Property<byte[]?>(c, SqliteRelayDbContext.ProcessedRoom), (byte[]?)null);
        }, ct);
}
