using EnrichmentRelay.Ledger;
using EnrichmentRelay.Tests.Sandbox;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// The SQLite ledger's write-ahead log is copied into the database by a background checkpoint on a connection of its
/// own, so no commit waits for it (<see cref="SqliteCheckpointer"/>); the writers' own automatic checkpoint is a backstop.
/// </summary>
public sealed class SqliteCheckpointerTests
{
    [Fact]
    public async Task WhatCommitsLeaveInTheLogIsCopiedIntoTheDatabaseAtTheNextIntervalWithoutAnotherCommit()
    {
        var path = Path.Combine(Path.GetTempPath(), $"relay-checkpoint-{Guid.NewGuid():N}.db");
        var connectionString = $"Data Source={path};Pooling=False";
        var time = new FakeTimeProvider();
        var checkpointer = new SqliteCheckpointer(Options.Create(new LedgerOptions { ConnectionString = connectionString }), time,
            NullLogger<SqliteCheckpointer>.Instance);
        try
        {
            await using var writer = new SqliteConnection(connectionString);
            await writer.OpenAsync();
            await Execute(writer, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE bodies (body BLOB);");
            await Execute(writer, "PRAGMA wal_checkpoint(TRUNCATE);");
            var empty = new FileInfo(path).Length;
            // 1 MB committed: in the log, not yet in the database (this writer never checkpoints).
            await Execute(writer, "BEGIN; " + string.Concat(Enumerable.Repeat("INSERT INTO bodies VALUES (zeroblob(4096)); ", 256)) + "COMMIT;");
            Assert.True(new FileInfo(path + "-wal").Length > 1_000_000);
            Assert.Equal(empty, new FileInfo(path).Length);

            await checkpointer.StartAsync(CancellationToken.None);
            // Fake time moves an interval per probe: the loop may not have reached its first wait when the probe starts.
            await Eventually.ReturnsAsync(() =>
            {
                time.Advance(SqliteCheckpointer.Interval);
                return new FileInfo(path).Length;
            }, length => length >= empty + 1_000_000, "the database file to hold the megabyte the log held");
            // The writer goes on meanwhile: a passive checkpoint holds no lock a commit needs.
            await Execute(writer, "INSERT INTO bodies VALUES (zeroblob(4096));");
        }
        finally
        {
            await checkpointer.StopAsync(CancellationToken.None);
            checkpointer.Dispose();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
                File.Delete(path + suffix);
        }
    }

    static async Task Execute(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
