using System.Diagnostics;
using EnrichmentRelay.Benchmarks.Report;
using Microsoft.Data.Sqlite;
using Npgsql;
using RabbitMQ.Client;

namespace EnrichmentRelay.Benchmarks.Infrastructure;

/// <summary>
/// The broker and database cluster that infra/bench.sh started (the same variables infra/test.sh exports),
/// and fresh, isolated pieces of them per run: a virtual host and a database each.
/// </summary>
public sealed class BenchEnvironment
{
    public required string RabbitHost { get; init; }
    public required int RabbitPort { get; init; }
    public required string RabbitUser { get; init; }
    public required string RabbitPassword { get; init; }
    public required string RabbitCtl { get; init; }
    public required string PostgresAdmin { get; init; }
    /// <summary>Where SQLite files, logs and results go.</summary>
    public required string WorkDirectory { get; init; }

    public static BenchEnvironment FromEnvironment(string workDirectory) => new()
    {
        RabbitHost = Required("RELAY_TEST_RABBITMQ_HOST"),
        RabbitPort = int.Parse(Required("RELAY_TEST_RABBITMQ_PORT")),
        RabbitUser = Required("RELAY_TEST_RABBITMQ_USER"),
        RabbitPassword = Required("RELAY_TEST_RABBITMQ_PASSWORD"),
        RabbitCtl = Required("RELAY_TEST_RABBITMQCTL"),
        PostgresAdmin = Required("RELAY_TEST_POSTGRES"),
        WorkDirectory = workDirectory,
    };

    static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the benchmarks through infra/bench.sh, which starts RabbitMQ and PostgreSQL.");

    public ConnectionFactory Broker(string virtualHost) => new()
    {
        HostName = RabbitHost,
        Port = RabbitPort,
        UserName = RabbitUser,
        Password = RabbitPassword,
        VirtualHost = virtualHost,
    };

    /// <summary>A virtual host of its own per run, so no run sees another's queues or leftovers.</summary>
    public async Task<string> NewVirtualHostAsync(string purpose)
    {
        var vhost = $"bench-{purpose}-{Guid.NewGuid():N}"[..40];
        await RabbitCtlAsync("add_vhost", vhost);
        await RabbitCtlAsync("set_permissions", "-p", vhost, RabbitUser, ".*", ".*", ".*");
        return vhost;
    }

    public Task DeleteVirtualHostAsync(string vhost) => RabbitCtlAsync("delete_vhost", vhost);

    /// <summary>A fresh ledger: a new SQLite file, or a new database on the cluster.</summary>
    public async Task<BenchDatabase> NewDatabaseAsync(Engine engine)
    {
        if (engine == Engine.Sqlite)
        {
            var path = Path.Combine(WorkDirectory, $"relay-bench-{Guid.NewGuid():N}.db");
            return new BenchDatabase(engine, $"Data Source={path}", path);
        }
        var name = $"relay_bench_{Guid.NewGuid():N}";
        await using (var admin = await OpenAdminAsync())
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new BenchDatabase(engine, new NpgsqlConnectionStringBuilder(PostgresAdmin) { Database = name }.ConnectionString, null);
    }

    /// <summary>
    /// The cluster's durability and sizing as the server reports them, for the report's settings: the figures hold for
    /// a server sized so (infra/postgres/start.sh), not for initdb's defaults.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> PostgresSettingsAsync()
    {
        string[] names = ["fsync", "synchronous_commit", "shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression"];
        await using var admin = await OpenAdminAsync();
        await using var show = new NpgsqlCommand("SELECT name, current_setting(name) FROM unnest(@names) WITH ORDINALITY AS s(name, n) ORDER BY n", admin);
        show.Parameters.AddWithValue("names", names);
        var settings = new Dictionary<string, string>();
        await using var reader = await show.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            settings[reader.GetString(0)] = reader.GetString(1);
        return settings;
    }

    /// <summary>
    /// Switches the cluster's fsync (a reload setting) for an extra, labelled comparison run; on again afterwards.
    /// Waits until a new session sees the value, so the run that follows is measured under it.
    /// </summary>
    public async Task SetFsyncAsync(bool on)
    {
        await using var admin = await OpenAdminAsync();
        await using (var set = new NpgsqlCommand(on ? "ALTER SYSTEM RESET fsync" : "ALTER SYSTEM SET fsync = off", admin))
            await set.ExecuteNonQueryAsync();
        await using (var reload = new NpgsqlCommand("SELECT pg_reload_conf()", admin))
            await reload.ExecuteNonQueryAsync();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await new BenchDatabase(Engine.Postgres, PostgresAdmin, null).DurabilityAsync()).Description.Contains("fsync on") != on)
        {
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"PostgreSQL did not take fsync = {(on ? "on" : "off")} within 30 s");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Writes back what the kernel holds dirty (PostgreSQL's checkpoint first, then <c>sync</c>): earlier sections leave
    /// hundreds of MB in the page cache (PostgreSQL's log written with fsync off, its spread checkpoints), and the kernel's
    /// writeback of them, or PostgreSQL's checkpoint sync of them, landed in a later section's paced run at random: a
    /// burst of 170 to 530 MB written in the middle of the per-job webhook run (/proc/diskstats, 13:35 UTC), whose relay
    /// on SQLite waits for an fsync per group commit. Returns the MB the kernel held dirty before.
    /// </summary>
    public async Task<double> SettleDiskAsync()
    {
        var dirty = DirtyMegabytes();
        await using (var admin = await OpenAdminAsync())
        {
            await using var checkpoint = new NpgsqlCommand("CHECKPOINT", admin) { CommandTimeout = 300 };
            await checkpoint.ExecuteNonQueryAsync();
        }
        using var sync = Process.Start(new ProcessStartInfo("sync") { UseShellExecute = false })!;
        await sync.WaitForExitAsync();
        return dirty;

        static double DirtyMegabytes() => File.ReadLines("/proc/meminfo").Where(l => l.StartsWith("Dirty:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024)
            .FirstOrDefault();
    }

    /// <summary>An open connection to the cluster's admin database, outside the pool (the bench's own statements, not the relay's).</summary>
    async Task<NpgsqlConnection> OpenAdminAsync()
    {
        var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(PostgresAdmin) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        return admin;
    }

    async Task RabbitCtlAsync(params string[] arguments)
    {
        var command = RabbitCtl + " " + string.Join(" ", arguments.Select(a => $"'{a}'"));
        using var process = Process.Start(new ProcessStartInfo("bash", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{command} failed: {await stdout} {await stderr}");
    }
}

public enum Engine
{
    Sqlite,
    Postgres,
}

public sealed record BenchDatabase(Engine Engine, string ConnectionString, string? SqlitePath)
{
    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Ledger__Engine"] = Engine.ToString(),
        ["Ledger__ConnectionString"] = ConnectionString,
    };

    /// <summary>
    /// The durability in force, asked of the server (PostgreSQL) or of the file (SQLite: its journal mode, and the
    /// synchronous level a connection opened like the relay's gets, as the relay sets none of its own).
    /// </summary>
    public async Task<Durability> DurabilityAsync()
    {
        if (Engine == Engine.Postgres)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var show = new NpgsqlCommand("SELECT current_setting('fsync'), current_setting('synchronous_commit')", connection);
            await using var reader = await show.ExecuteReaderAsync();
            await reader.ReadAsync();
            return Durability.Postgres(reader.GetString(0), reader.GetString(1));
        }
        await using var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await sqlite.OpenAsync();
        // The journal mode first: reading it opens the WAL, after which SQLite applies its WAL default for synchronous.
        await using var journal = new SqliteCommand("PRAGMA journal_mode", sqlite);
        var mode = (string)(await journal.ExecuteScalarAsync())!;
        await using var synchronous = new SqliteCommand("PRAGMA synchronous", sqlite);
        return Durability.Sqlite(mode, (long)(await synchronous.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// SQLite: deletes every row of the relay's ledger but its migration history, under the running (idle) relay, after a
    /// warm-up, so the measured run starts on an empty ledger whatever its warm-up took. On SQLite the cost of a request
    /// grows with the ledger (each connection reads its pages again after every commit of another), and a warm-up of
    /// 100,000 requests would otherwise weigh on the measured run. PostgreSQL is left as it is: emptied with
    /// <c>TRUNCATE</c>, its plans were made again for empty tables, and one measured run in six spent 1.15 ms of the
    /// server's CPU per request instead of 0.25.
    /// </summary>
    public async Task EmptyAsync()
    {
        if (Engine == Engine.Postgres)
            return;
        await using var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false, DefaultTimeout = 60 }.ConnectionString);
        await sqlite.OpenAsync();
        var names = new List<string>();
        await using (var list = new SqliteCommand("""SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__EFMigrationsHistory'""", sqlite))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                names.Add(reader.GetString(0));
        await using var transaction = (SqliteTransaction)await sqlite.BeginTransactionAsync();
        // In any order: the foreign keys are checked at the commit, when every table is empty.
        await using (var defer = new SqliteCommand("PRAGMA defer_foreign_keys = ON", sqlite, transaction))
            await defer.ExecuteNonQueryAsync();
        foreach (var name in names)
        {
            await using var delete = new SqliteCommand($"DELETE FROM \"{name}\"", sqlite, transaction);
            await delete.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
    }

    /// <summary>Callbacks the relay has stored and not yet applied (its <c>provider_callbacks</c> rows with no <c>ProcessedAt</c>).</summary>
    public async Task<long> PendingCallbacksAsync()
    {
        const string count = """SELECT COUNT(*) FROM provider_callbacks WHERE "ProcessedAt" IS NULL""";
        if (Engine == Engine.Postgres)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var query = new NpgsqlCommand(count, connection);
            return (long)(await query.ExecuteScalarAsync())!;
        }
        await using var sqlite = new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ConnectionString);
        await sqlite.OpenAsync();
        await using var command = new SqliteCommand(count, sqlite);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Deletes a SQLite database's files; kept with <c>RELAY_KEEP_DIRS=1</c>, to read what a failed section left.</summary>
    public void Delete()
    {
        if (SqlitePath is null || Environment.GetEnvironmentVariable("RELAY_KEEP_DIRS") == "1")
            return;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(SqlitePath + suffix);
    }
}
