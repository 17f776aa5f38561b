using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// SQLite has one writer. When a connection finds the database locked, Microsoft.Data.Sqlite retries by sleeping
/// 150 ms at a time, blocking its thread: a webhook waiting behind the callback processor's transaction then
/// answers 150 or 300 ms late. With SQLite's own busy handler set on every connection, a locked statement waits
/// inside SQLite, in steps of a few milliseconds, and goes on as soon as the lock is free.
/// Each connection also checkpoints its write-ahead log less often than SQLite's default (see <see cref="WalAutoCheckpointPages"/>).
/// </summary>
public sealed class SqliteBusyWait : DbConnectionInterceptor
{
    /// <summary>Longer than any transaction of the relay's; a statement still locked after it fails as before.</summary>
    public const int BusyTimeoutMilliseconds = 30_000;

    /// <summary>
    /// The write-ahead log is copied into the database (a checkpoint, two fsyncs, run by the commit that crosses this
    /// size) once it holds 4,000 pages, 16 MB, instead of SQLite's 1,000: 32 KB webhook bodies stored flat out crossed
    /// 4 MB a dozen times a second, each crossing stalling the group commit. Commits still sync the log (synchronous
    /// FULL); the price is a longer stall per checkpoint (docs/performance.md, "Fewer checkpoints on SQLite").
    /// </summary>
    public const int WalAutoCheckpointPages = 4_000;

    static readonly string Pragma = $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}; PRAGMA wal_autocheckpoint = {WalAutoCheckpointPages};";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken ct = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        await command.ExecuteNonQueryAsync(ct);
    }
}
