using System.Data.Common;
using EnrichmentRelay.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EnrichmentRelay.Ledger;

public static class LedgerExtensions
{
    public static IHostApplicationBuilder AddLedger(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LedgerOptions>()
            .BindConfiguration(LedgerOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        var options = builder.Configuration.GetSection(LedgerOptions.Section).Get<LedgerOptions>() ?? new LedgerOptions();
        // Pooled: the hot paths open a short scope per statement group (an outbox mark, a claim, a callback round), and
        // a pooled context is reset instead of built again with its internal services each time.
        switch (options.Engine)
        {
            case LedgerEngine.Postgres:
                builder.Services.AddDbContextPool<PostgresRelayDbContext>(o => o.UseNpgsql(WithAutoPrepare(options.ConnectionString)));
                builder.Services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<PostgresRelayDbContext>());
                break;
            default:
                builder.Services.AddSingleton<SqliteInstanceLock>();
                builder.Services.AddDbContextPool<SqliteRelayDbContext>((sp, o) => o.UseSqlite(options.ConnectionString, SqliteSettings)
                    .AddInterceptors(new SqliteBusyWait(sp.GetService<RelayMetrics>())));
                builder.Services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<SqliteRelayDbContext>());
                builder.Services.AddHostedService<SqliteCheckpointer>();
                break;
        }

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddScoped<RequestCompletion>();
        builder.Services.AddSingleton<LedgerRetention>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LedgerRetention>());
        builder.Services.AddHealthChecks().AddDbContextCheck<RelayDbContext>("ledger", tags: ["ready"]);
        return builder;
    }

    /// <summary>
    /// The ledger's SQLite settings. A list in a query (<c>ids.Contains(r.RequestId)</c>, a job's thousand requests) goes
    /// as one JSON parameter that SQLite reads with <c>json_each</c>, not as a parameter per element (EF Core 10's default):
    /// Microsoft.Data.Sqlite binds each parameter by name, and SQLite finds a name by walking the statement's list of
    /// names, so binding a thousand took half a million string comparisons (PostgreSQL gets one array parameter anyway).
    /// </summary>
    public static void SqliteSettings(SqliteDbContextOptionsBuilder sqlite) =>
        sqlite.UseParameterizedCollectionMode(ParameterTranslationMode.Parameter);

    /// <summary>
    /// How many statements each PostgreSQL connection keeps prepared; Npgsql prepares one once it ran 5 times on the
    /// connection, and the server then skips parsing and planning it.
    /// </summary>
    public const int AutoPreparedStatements = 100;

    /// <summary>
    /// The connection string with Npgsql's automatic preparation on (<see cref="AutoPreparedStatements"/> per
    /// connection), unless it sets <c>Max Auto Prepare</c> itself (0 turns it off, for a pooler in transaction mode that
    /// cannot keep prepared statements). The ledger's queries are a few dozen texts run thousands of times a second, and
    /// PostgreSQL parsed and planned each run again.
    /// </summary>
    public static string WithAutoPrepare(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.Keys.Cast<string>().Any(k => k.Replace(" ", "").Equals("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase)))
            return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = AutoPreparedStatements }.ConnectionString;
    }

    /// <summary>Applies migrations (unless switched off) and prepares the engine before the relay takes work.</summary>
    public static async Task PrepareLedgerAsync(this IHost app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var options = scope.ServiceProvider.GetRequiredService<IOptions<LedgerOptions>>().Value;
        if (options.Engine == LedgerEngine.Sqlite)
            app.Services.GetRequiredService<SqliteInstanceLock>().Acquire(options.ConnectionString);
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        if (options.MigrateOnStartup)
            await db.Database.MigrateAsync();
        if (options.Engine == LedgerEngine.Sqlite)
        {
            // WAL lets the webhook endpoint and API read while a flush or callback writes.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        }
    }
}
