using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// Marking a callback processed changes its row's ProcessedAt only. On SQLite the row keeps its size (it gives up the
/// room it kept for the mark), so the write-ahead log takes the pages that changed, not the 32 KB body once more.
/// </summary>
public sealed class ProcessedCallbacksTests
{
    const int PageSize = 4096;

    [Fact]
    public async Task OnSqliteMarkingA32KbCallbackProcessedLogsAFewPagesNotItsBodyAgain()
    {
        await using var ledger = await EngineLedgers.CreateAsync("Sqlite");
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        // One connection throughout: the log stays (and is not copied into the database) while it is open.
        await db.Database.OpenConnectionAsync();
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;");
        var body = $"{{\"enrichment_id\":\"{Guid.NewGuid()}\",\"results\":[\"{new string('x', 32 * 1024)}\"]}}";
        var now = DateTimeOffset.UtcNow;
        var rows = Enumerable.Range(0, 2).Select(_ => new ProviderCallbackRecord { ProviderJobId = Guid.NewGuid(), ReceivedAt = now, Body = body }).ToList();
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            // As the webhook stores them.
            await BulkInsert.InsertAsync(db, rows, CancellationToken.None);
            await transaction.CommitAsync();
        }
        var stored = LoggedPages(db);
        Assert.True(stored >= 16, $"two 32 KB bodies logged {stored} pages");

        var marked = await db.ProviderCallbacks.Where(c => c.ProcessedAt == null).MarkProcessedAsync(db, now, CancellationToken.None);

        Assert.Equal(2, marked);
        var pages = LoggedPages(db) - stored;
        // Each row's first page and last overflow page, ProcessedAt's index and the database header: not 2 × 9.
        Assert.True(pages <= 6, $"marking two 32 KB callbacks processed logged {pages} pages");
        var read = await db.ProviderCallbacks.AsNoTracking().OrderBy(c => c.Id).ToListAsync();
        Assert.All(read, c => Assert.Equal(body, c.Body));
        Assert.All(read, c => Assert.NotNull(c.ProcessedAt));
    }

    [Fact]
    public async Task OnSqliteACallbackStoredBeforeItHadRoomIsMarkedAllTheSame()
    {
        await using var ledger = await EngineLedgers.CreateAsync("Sqlite");
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        db.ProviderCallbacks.Add(new ProviderCallbackRecord { ProviderJobId = Guid.NewGuid(), ReceivedAt = DateTimeOffset.UtcNow, Body = "{}" });
        await db.SaveChangesAsync();
        await db.Database.ExecuteSqlRawAsync($"UPDATE provider_callbacks SET \"{SqliteRelayDbContext.ProcessedRoom}\" = NULL");

        Assert.Equal(1, await db.ProviderCallbacks.MarkProcessedAsync(db, DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.NotNull((await db.ProviderCallbacks.AsNoTracking().SingleAsync()).ProcessedAt);
    }

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task OnEitherEngineOnlyTheCallbacksAskedForAreMarked(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var job = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        db.ProviderCallbacks.AddRange(new ProviderCallbackRecord { ProviderJobId = job, ReceivedAt = now, Body = "{}" },
            new ProviderCallbackRecord { ProviderJobId = Guid.NewGuid(), ReceivedAt = now, Body = "{}" });
        await db.SaveChangesAsync();

        Assert.Equal(1, await db.ProviderCallbacks.Where(c => c.ProviderJobId == job).MarkProcessedAsync(db, now, CancellationToken.None));

        var rows = await db.ProviderCallbacks.AsNoTracking().ToListAsync();
        Assert.Equal(now.UtcTicks / 10, rows.Single(c => c.ProviderJobId == job).ProcessedAt!.Value.UtcTicks / 10);
        Assert.Null(rows.Single(c => c.ProviderJobId != job).ProcessedAt);
    }

    /// <summary>Frames in the write-ahead log: the file's size past its 32-byte header, in frames of a page and its 24-byte header.</summary>
    static long LoggedPages(RelayDbContext db)
    {
        var log = new FileInfo(db.Database.GetDbConnection().DataSource + "-wal");
        return log.Exists ? Math.Max(0, log.Length - 32) / (24 + PageSize) : 0;
    }
}
