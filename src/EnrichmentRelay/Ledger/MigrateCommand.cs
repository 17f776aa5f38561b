using EnrichmentRelay.Operations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// <c>dotnet EnrichmentRelay.dll --migrate</c>: the database migrations as a deploy step (a Kubernetes Job, a CI
/// stage) before the relays start with <c>Ledger:MigrateOnStartup=false</c>. Reads the same settings as the relay
/// (only <c>Ledger:*</c> matter), applies what is pending and exits: 0 when the ledger is up to date, 1 when the
/// database could not be migrated, 78 for a wrong setting. No bus, provider or HTTP listener is started.
/// EF Core holds a database lock while it migrates, so two runs at once are safe on PostgreSQL; on SQLite the
/// command takes the instance lock, so it refuses to migrate under a running relay.
/// </summary>
public static class MigrateCommand
{
    public const string Flag = "--migrate";

    public static bool IsRequested(string[] args) => args.Length > 0 && args[0] == Flag;

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args[1..]);
        builder.AddLedger();
        using var host = builder.Build();
        // A wrong Ledger setting stops here with the line naming it (exit 78), before the database is touched.
        host.ValidateSettings();
        var options = host.Services.GetRequiredService<IOptions<LedgerOptions>>().Value;
        try
        {
            if (options.Engine == LedgerEngine.Sqlite)
                host.Services.GetRequiredService<SqliteInstanceLock>().Acquire(options.ConnectionString);
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            var pending = (await db.Database.GetPendingMigrationsAsync()).ToList();
            await db.Database.MigrateAsync();
            var known = db.Database.GetMigrations().Count();
            Console.WriteLine(pending.Count == 0
                ? $"Ledger ({options.Engine}): up to date; all {known} migrations were applied before."
                : $"Ledger ({options.Engine}): applied {pending.Count} of {known} migrations: {string.Join(", ", pending)}.");
            return 0;
        }
        catch (Exception e)
        {
            // One line for the deploy log; the driver's messages name the host or file, never a password.
            Console.Error.WriteLine($"Ledger ({options.Engine}): migration failed: {e.GetBaseException().Message}");
            return 1;
        }
    }
}
