using Microsoft.Data.Sqlite;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// SQLite is for one relay instance: two would both claim the same batches and poll ticks with nothing but
/// file locks between them. The first instance holds an exclusive lock on <c>{database}.instance-lock</c>
/// for its whole life (the OS drops it if the process dies); a second one fails to take it and stops.
/// </summary>
public sealed class SqliteInstanceLock : IDisposable
{
    FileStream? held;

    public void Acquire(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:")
            return;
        var path = Path.GetFullPath(builder.DataSource) + ".instance-lock";
        try
        {
            held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new InvalidOperationException(
                $"Another relay instance is already using the SQLite ledger {builder.DataSource}. SQLite is for a single instance: " +
                "to run several, point them all at one PostgreSQL database (Ledger:Engine=Postgres).");
        }
    }

    public void Dispose() => held?.Dispose();
}
