using System.Diagnostics.Metrics;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Tests.Sandbox;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EnrichmentRelay.Tests.Ledger;

public sealed class SqliteBusyWaitTests : IDisposable
{
    readonly string path = Path.Combine(Path.GetTempPath(), $"relay-busy-{Guid.NewGuid():N}.db");
    readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public SqliteBusyWaitTests()
    {
        // In the write-ahead-log mode the ledger runs in: a commit never waits for another connection's read lock, so
        // only the second transaction waits (in rollback-journal mode the first one's commit could wait too).
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = wal;";
        command.ExecuteNonQuery();
    }

    /// <summary>A busy handler whose waits <paramref name="waits"/> counts (<c>relay.ledger.lock_waits</c>).</summary>
    SqliteBusyWait Counted(out MetricCollector<long> waits, int busyTimeoutMilliseconds = SqliteBusyWait.BusyTimeoutMilliseconds)
    {
        var meters = services.GetRequiredService<IMeterFactory>();
        waits = new MetricCollector<long>(meters, RelayMetrics.MeterName, "relay.ledger.lock_waits");
        return new SqliteBusyWait(new RelayMetrics(meters), busyTimeoutMilliseconds);
    }

    static long Count(MetricCollector<long> waits) => waits.GetMeasurementSnapshot().EvaluateAsCounter();

    SqliteRelayDbContext Ledger(SqliteBusyWait wait, string extra = "") =>
        new(new DbContextOptionsBuilder<SqliteRelayDbContext>().UseSqlite($"Data Source={path}{extra}").AddInterceptors(wait).Options);

    [Fact]
    public async Task EveryLedgerConnectionCheckpointsItsLogLessOften()
    {
        await using var db = Ledger(new SqliteBusyWait());
        await db.Database.OpenConnectionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = "PRAGMA wal_autocheckpoint;";
        Assert.Equal((long)SqliteBusyWait.WalAutoCheckpointPages, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task ATransactionThatFindsTheDatabaseLockedWaitsInsideSqliteAndBeginsOnceTheLockIsFree()
    {
        var wait = Counted(out var waits);
        using var _ = waits;
        await using var holder = Ledger(wait);
        await using var waiter = Ledger(wait);
        await waiter.Database.OpenConnectionAsync();
        await using var held = await holder.Database.BeginTransactionAsync(); // BEGIN IMMEDIATE: the write lock

        var begun = Task.Run(() => waiter.Database.BeginTransactionAsync());
        await Eventually.ReturnsAsync(() => Count(waits), n => n > 0, "the second transaction to find the database locked");
        Assert.False(begun.IsCompleted, "began while the first transaction held the write lock");

        await held.CommitAsync();
        await using var second = await begun.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, Count(waits));
    }

    [Fact]
    public async Task AStatementStillLockedAfterTheBusyTimeoutFailsWithSqliteBusy()
    {
        var patient = new SqliteBusyWait();
        var hasty = Counted(out var waits, busyTimeoutMilliseconds: 20);
        using var _ = waits;
        await using var holder = Ledger(patient);
        // Microsoft.Data.Sqlite tries a busy statement again itself until its command timeout (1 s here), then throws.
        await using var waiter = Ledger(hasty, ";Default Timeout=1");
        await using var held = await holder.Database.BeginTransactionAsync();

        var failure = await Assert.ThrowsAsync<SqliteException>(() => waiter.Database.BeginTransactionAsync());
        Assert.Equal(5, failure.SqliteErrorCode); // SQLITE_BUSY
        Assert.True(Count(waits) > 0, "the handler was not the one that gave up");
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        services.Dispose();
        foreach (var file in new[] { path, $"{path}-wal", $"{path}-shm" })
            File.Delete(file);
    }
}
