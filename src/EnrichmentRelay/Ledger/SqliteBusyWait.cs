using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// SQLite has one writer. When a connection finds the database locked, Microsoft.Data.Sqlite retries by sleeping
/// 150 ms at a time, blocking its thread: a webhook waiting behind the callback processor's transaction then
/// answers 150 or 300 ms late. With SQLite's own busy handler set on every connection, a locked statement waits
/// inside SQLite, in steps of a few milliseconds, and goes on as soon as the lock is free.
/// Each connection's own checkpoint of the write-ahead log is a backstop only (see <see cref="WalAutoCheckpointPages"/>).
/// </summary>
public sealed class SqliteBusyWait : DbConnectionInterceptor
{
    /// <summary>Longer than any transaction of the relay's; a statement still locked after it fails as before.</summary>
    public const int BusyTimeoutMilliseconds = 30_000;

    /// <summary>
    /// The commit that grows the write-ahead log past 4,000 pages, 16 MB, copies it into the database itself (a
    /// checkpoint, two fsyncs) before it returns. <see cref="SqliteCheckpointer"/> does that in the background, so the
    /// log stays far under this size and this is the backstop should it fall behind; SQLite's own 1,000 pages (4 MB)
    /// were crossed a dozen times a second when 32 KB webhook bodies were stored flat out (docs/performance.md,
    /// "Fewer checkpoints on SQLite"). Commits still sync the log (synchronous FULL).
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
