using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// Copies SQLite's write-ahead log into the database in the background: a passive checkpoint every
/// <see cref="Interval"/>, on a connection of its own. With only SQLite's automatic checkpoint, the commit that grew the
/// log past its threshold ran the checkpoint (a copy of up to 16 MB and two fsyncs) before it returned, and every webhook
/// that commit acknowledged waited with it. A passive checkpoint takes no lock a writer needs, so commits go on while it
/// copies; the connections' own automatic checkpoint stays, as a backstop, at a size this one keeps the log under
/// (<see cref="SqliteBusyWait.WalAutoCheckpointPages"/>).
/// </summary>
public sealed class SqliteCheckpointer(IOptions<LedgerOptions> options, TimeProvider time, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    /// <summary>Often enough that the log stays far below the backstop when 32 KB callbacks are stored flat out (about 60 MB/s).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var connection = new SqliteConnection(options.Value.ConnectionString);
        var failedBefore = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, time, stoppingToken);
                if (connection.State != System.Data.ConnectionState.Open)
                    await connection.OpenAsync(stoppingToken);
                await using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                await command.ExecuteNonQueryAsync(stoppingToken);
                failedBefore = false;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (SqliteException ex)
            {
                // The automatic checkpoint still runs on the commits; say so once per run of failures, not every 100 ms.
                if (!failedBefore)
                    logger.LogWarning(ex, "Background checkpoint of the SQLite ledger failed; commits checkpoint it themselves until it works again");
                failedBefore = true;
                await connection.CloseAsync();
            }
        }
    }
}
