using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EnrichmentRelay.Ledger;

// Used only by `dotnet ef migrations add`, so each engine's migrations are generated against its own
// provider without starting the relay. The connection strings are never opened.

sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteRelayDbContext>
{
    public SqliteRelayDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteRelayDbContext>().UseSqlite("Data Source=design-time.db", LedgerExtensions.SqliteSettings).Options);
}

sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresRelayDbContext>
{
    public PostgresRelayDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresRelayDbContext>().UseNpgsql("Host=localhost;Database=design_time").Options);
}
