using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// On PostgreSQL the ledger's statements are prepared once they repeat (Npgsql's automatic preparation), so the server
/// does not parse and plan each run again; a connection string that sets Max Auto Prepare itself is left as it is.
/// </summary>
public sealed class AutoPrepareTests
{
    [Fact]
    public void AConnectionStringThatSaysNothingOfItGetsAutomaticPreparation() =>
        Assert.Equal(LedgerExtensions.AutoPreparedStatements,
            new NpgsqlConnectionStringBuilder(LedgerExtensions.WithAutoPrepare("Host=db;Username=relay;Password=secret")).MaxAutoPrepare);

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;maxautoprepare=7", 7)]
    public void AConnectionStringThatSetsItIsLeftAsItIs(string connectionString, int expected)
    {
        Assert.Equal(connectionString, LedgerExtensions.WithAutoPrepare(connectionString));
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(connectionString).MaxAutoPrepare);
    }

    [Fact]
    public async Task OnPostgresAQueryRunSeveralTimesIsPreparedOnItsConnection()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var migrated = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var options = new DbContextOptionsBuilder<PostgresRelayDbContext>()
            .UseNpgsql(LedgerExtensions.WithAutoPrepare(migrated.Database.GetConnectionString()!)).Options;
        await using var db = new PostgresRelayDbContext(options);
        await db.Database.OpenConnectionAsync();

        for (var i = 0; i < 6; i++)
            await db.ProviderCallbacks.Where(c => c.ProcessedAt == null).CountAsync();

        var prepared = await db.Database.SqlQuery<string>($"""SELECT statement AS "Value" FROM pg_prepared_statements""").ToListAsync();
        Assert.Contains(prepared, s => s.Contains("provider_callbacks", StringComparison.Ordinal));
    }
}
