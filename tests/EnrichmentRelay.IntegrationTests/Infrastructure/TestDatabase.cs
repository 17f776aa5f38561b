using Npgsql;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

public enum Engine
{
    Sqlite,
    Postgres,
}

/// <summary>A fresh, empty database per test: a SQLite file, or a new database on the test cluster.</summary>
public sealed record TestDatabase(Engine Engine, string ConnectionString)
{
    /// <summary>SQLite files go with the test; PostgreSQL databases go with the throwaway cluster.</summary>
    public void Delete()
    {
        if (Engine != Engine.Sqlite)
            return;
        var path = ConnectionString["Data Source=".Length..];
        foreach (var suffix in new[] { "", "-wal", "-shm", ".instance-lock" })
            File.Delete(path + suffix);
    }

    /// <param name="postgres">The PostgreSQL cluster to create it on: the shared one by default.</param>
    public static async Task<TestDatabase> CreateAsync(Engine engine, TestPostgres? postgres = null)
    {
        postgres ??= TestPostgres.Shared;
        if (engine == Engine.Sqlite)
            return new TestDatabase(engine, $"Data Source={Path.Combine(Path.GetTempPath(), $"relay-it-{Guid.NewGuid():N}.db")}");

        var name = $"relay_it_{Guid.NewGuid():N}";
        // Unpooled: a pooled connection would be stale after the fault test that restarts the cluster.
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(postgres.AdminConnectionString) { Pooling = false }.ConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new TestDatabase(engine, new NpgsqlConnectionStringBuilder(postgres.AdminConnectionString) { Database = name }.ConnectionString);
    }

    /// <summary>The test cluster's durability settings as the server reports them, e.g. "PostgreSQL fsync on, synchronous_commit on".</summary>
    public static async Task<string> DurabilityAsync(TestPostgres? postgres = null)
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder((postgres ?? TestPostgres.Shared).AdminConnectionString) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var show = new NpgsqlCommand("SELECT current_setting('fsync'), current_setting('synchronous_commit')", admin);
        await using var reader = await show.ExecuteReaderAsync();
        await reader.ReadAsync();
        return $"PostgreSQL fsync {reader.GetString(0)}, synchronous_commit {reader.GetString(1)}";
    }

    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Ledger__Engine"] = Engine.ToString(),
        ["Ledger__ConnectionString"] = ConnectionString,
    };
}
