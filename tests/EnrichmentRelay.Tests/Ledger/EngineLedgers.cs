using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EnrichmentRelay.Tests;

/// <summary>
/// A migrated, empty ledger on either engine, for tests of what the database itself does: SQLite always, PostgreSQL
/// where infra/test.sh provides a cluster (RELAY_TEST_POSTGRES), as it does for the suite.
/// </summary>
public static class EngineLedgers
{
    public static TheoryData<string> Engines()
    {
        var engines = new TheoryData<string> { "Sqlite" };
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RELAY_TEST_POSTGRES")))
            engines.Add("Postgres");
        return engines;
    }

    /// <summary>A PostgreSQL ledger, for tests of what PostgreSQL itself does: fails, saying why, without the test server.</summary>
    public static Task<EngineLedger> PostgresAsync()
    {
        Assert.False(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RELAY_TEST_POSTGRES")),
            "RELAY_TEST_POSTGRES names the test PostgreSQL server (infra/test.sh starts one and sets it)");
        return CreateAsync("Postgres");
    }

    /// <returns>Services with a scoped <see cref="RelayDbContext"/> (and what <paramref name="configure"/> adds); disposed, the database is deleted.</returns>
    public static async Task<EngineLedger> CreateAsync(string engine, Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        configure?.Invoke(services);
        Func<Task> cleanup;
        if (engine == "Postgres")
        {
            var admin = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("RELAY_TEST_POSTGRES")) { Pooling = false };
            var name = $"relay_unit_{Guid.NewGuid():N}";
            await using (var connection = new NpgsqlConnection(admin.ConnectionString))
            {
                await connection.OpenAsync();
                await new NpgsqlCommand($"CREATE DATABASE {name}", connection).ExecuteNonQueryAsync();
            }
            var connectionString = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = name }.ConnectionString;
            services.AddDbContext<PostgresRelayDbContext>(o => o.UseNpgsql(connectionString));
            services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<PostgresRelayDbContext>());
            cleanup = async () =>
            {
                await using var connection = new NpgsqlConnection(admin.ConnectionString);
                await connection.OpenAsync();
                await new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection).ExecuteNonQueryAsync();
            };
        }
        else
        {
            var path = Path.Combine(Path.GetTempPath(), $"relay-ledger-{Guid.NewGuid():N}.db");
            services.AddDbContext<SqliteRelayDbContext>(o => o.UseSqlite($"Data Source={path};Pooling=False", LedgerExtensions.SqliteSettings));
            services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<SqliteRelayDbContext>());
            cleanup = () =>
            {
                foreach (var suffix in new[] { "", "-wal", "-shm" })
                    File.Delete(path + suffix);
                return Task.CompletedTask;
            };
        }
        var provider = services.BuildServiceProvider();
        await using (var scope = provider.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<RelayDbContext>().Database.MigrateAsync();
        return new EngineLedger(provider, cleanup);
    }
}

/// <summary>A ledger of <see cref="EngineLedgers"/>: its services; disposing it disposes them and deletes the database.</summary>
public sealed class EngineLedger(ServiceProvider services, Func<Task> cleanup) : IAsyncDisposable
{
    public ServiceProvider Services => services;

    public async ValueTask DisposeAsync()
    {
        await services.DisposeAsync();
        await cleanup();
    }
}
