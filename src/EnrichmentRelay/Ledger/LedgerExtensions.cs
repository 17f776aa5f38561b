using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

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
                builder.Services.AddDbContextPool<PostgresRelayDbContext>(o => o.UseNpgsql(options.ConnectionString));
                builder.Services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<PostgresRelayDbContext>());
                break;
            default:
                builder.Services.AddSingleton<SqliteInstanceLock>();
                builder.Services.AddDbContextPool<SqliteRelayDbContext>(o => o.UseSqlite(options.ConnectionString).AddInterceptors(new SqliteBusyWait()));
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
