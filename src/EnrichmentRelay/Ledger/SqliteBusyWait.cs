using System.Data.Common;
using System.Runtime.InteropServices;
using EnrichmentRelay.Telemetry;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// SQLite has one writer. When a connection finds the database locked, Microsoft.Data.Sqlite retries by sleeping
/// 150 ms at a time, blocking its thread: a webhook waiting behind the callback processor's transaction then
/// answers 150 or 300 ms late. So every ledger connection has a busy handler of its own: a locked statement waits
/// inside SQLite and tries again every millisecond, going on as soon as the lock is free. (SQLite's own handler, what
/// <c>PRAGMA busy_timeout</c> installs, sleeps 1, 2, 5, 10, 15, 20, 25 and then up to 100 ms between tries: a transaction
/// waiting behind one of 9 ms began at 18 ms, behind one of 34 ms at 53, and the lock stayed free while its waiters
/// slept; docs/performance.md, "Waiting for SQLite's write lock a millisecond at a time".)
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

    static readonly string Pragma = $"PRAGMA wal_autocheckpoint = {WalAutoCheckpointPages};";

    readonly RelayMetrics? metrics;
    readonly int busyTimeoutMilliseconds;

    /// <summary>This interceptor as SQLite hands it back to <see cref="TryAgain"/>.</summary>
    readonly nint self;

    /// <param name="metrics">Counts the waits (<c>relay.ledger.lock_waits</c>); none where the relay runs without its instruments (<c>migrate</c>).</param>
    /// <param name="busyTimeoutMilliseconds">How long a statement waits for the lock before it fails with SQLITE_BUSY.</param>
    public SqliteBusyWait(RelayMetrics? metrics = null, int busyTimeoutMilliseconds = BusyTimeoutMilliseconds)
    {
        this.metrics = metrics;
        this.busyTimeoutMilliseconds = busyTimeoutMilliseconds;
        // Never freed: a pooled native connection may call the handler for as long as the process runs, and the
        // relay builds one interceptor per context pool.
        self = GCHandle.ToIntPtr(GCHandle.Alloc(this));
    }

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        WaitWhenLocked(connection);
        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken ct = default)
    {
        WaitWhenLocked(connection);
        await using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        await command.ExecuteNonQueryAsync(ct);
    }

    void WaitWhenLocked(DbConnection connection)
    {
        var handle = ((SqliteConnection)connection).Handle ?? throw new InvalidOperationException("The SQLite connection is not open.");
        var result = Native.sqlite3_busy_handler(handle.DangerousGetHandle(), Native.OnBusy, self);
        if (result != 0)
            throw new SqliteException($"Setting the ledger connection's busy handler failed (SQLite error {result}).", result);
    }

    /// <summary>Called by SQLite on the locked statement's thread; <paramref name="tries"/> counts this lock's earlier calls.</summary>
    /// <returns>1 to try again, having waited a millisecond; 0 to fail with SQLITE_BUSY, the timeout spent.</returns>
    static int TryAgain(nint state, int tries)
    {
        var wait = (SqliteBusyWait)GCHandle.FromIntPtr(state).Target!;
        if (tries == 0)
            wait.metrics?.LedgerLockWaited();
        // Each try waited at least a millisecond, so this many tries waited at least the timeout.
        if (tries >= wait.busyTimeoutMilliseconds)
            return 0;
        Thread.Sleep(1);
        return 1;
    }

    /// <summary>
    /// The same native library Microsoft.Data.Sqlite uses (its provider imports <c>e_sqlite3</c> by this name too), so
    /// the connection's handle is this library's.
    /// </summary>
    static class Native
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int BusyHandler(nint state, int tries);

        /// <summary>Held for the process's life: SQLite calls it for as long as any connection has it set.</summary>
        public static readonly BusyHandler OnBusy = TryAgain;

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl)]
        public static extern int sqlite3_busy_handler(nint db, BusyHandler handler, nint state);
    }
}
