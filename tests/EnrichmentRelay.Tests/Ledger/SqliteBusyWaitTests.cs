using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Tests.Ledger;

public sealed class SqliteBusyWaitTests
{
    [Fact]
    public async Task EveryLedgerConnectionWaitsInsideSqliteForALockedDatabaseAndCheckpointsItsLogLessOften()
    {
        var path = Path.Combine(Path.GetTempPath(), $"relay-busy-{Guid.NewGuid():N}.db");
        try
        {
            var options = new DbContextOptionsBuilder<SqliteRelayDbContext>()
                .UseSqlite($"Data Source={path}").AddInterceptors(new SqliteBusyWait()).Options;
            await using var db = new SqliteRelayDbContext(options);
            await db.Database.OpenConnectionAsync();
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText = "PRAGMA busy_timeout;";
            Assert.Equal((long)SqliteBusyWait.BusyTimeoutMilliseconds, await command.ExecuteScalarAsync());

            command.CommandText = "PRAGMA wal_autocheckpoint;";
            Assert.Equal((long)SqliteBusyWait.WalAutoCheckpointPages, await command.ExecuteScalarAsync());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(path);
        }
    }
}
