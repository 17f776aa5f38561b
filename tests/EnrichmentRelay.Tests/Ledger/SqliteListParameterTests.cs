using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// On SQLite a list in a ledger query (a job's thousand request ids) is one JSON parameter, not one per element, in the
/// contexts the relay registers (<see cref="LedgerExtensions.SqliteSettings"/>): SQLite looks each parameter up by name
/// in a list of them, so a thousand cost half a million comparisons to bind.
/// </summary>
public sealed class SqliteListParameterTests : IAsyncLifetime
{
    readonly string path = Path.Combine(Path.GetTempPath(), $"relay-list-{Guid.NewGuid():N}.db");
    IHost host = null!;

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ledger:Engine"] = "Sqlite",
            ["Ledger:ConnectionString"] = $"Data Source={path}",
        });
        builder.AddLedger();
        host = builder.Build();
        await using var scope = host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<RelayDbContext>().Database.MigrateAsync();
    }

    public Task DisposeAsync()
    {
        host.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            File.Delete(file);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task AThousandIdsAreOneParameterAndFindTheirRows()
    {
        var ids = Enumerable.Range(0, 1_000).Select(_ => Guid.NewGuid()).ToList();
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        db.Requests.AddRange(new[] { ids[0], ids[999], Guid.NewGuid() }.Select(id => new EnrichmentRequestRecord
        {
            RequestId = id,
            RequestJson = "{}",
            AcceptedAt = DateTimeOffset.UnixEpoch,
        }));
        await db.SaveChangesAsync();

        var query = db.Requests.Where(r => ids.Contains(r.RequestId));

        var sql = query.ToQueryString();
        Assert.Contains("json_each(@ids)", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("@ids1", sql, StringComparison.Ordinal);
        var found = await query.Select(r => r.RequestId).ToListAsync();
        Assert.Equal(new[] { ids[0], ids[999] }.Order(), found.Order());
    }
}
