using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// On PostgreSQL the ledger's large text columns are compressed with lz4, not the default pglz: a 32 KB callback body
/// is compressed on the webhook's path and read back on the processor's, and pglz cost the server about a third of
/// the per-job webhook's throughput (docs/performance.md).
/// </summary>
public sealed class LargeColumnCompressionTests
{
    public static TheoryData<string, string> LargeColumns() => new()
    {
        { "provider_callbacks", "Body" },
        { "provider_answers", "Body" },
        { "outbox", "Body" },
        { "enrichment_requests", "RequestJson" },
        { "provider_jobs", "SubmitAnswer" },
        { "selections", "RequestJson" },
        { "dead_letters", "Body" },
    };

    [Theory]
    [MemberData(nameof(LargeColumns))]
    public async Task OnPostgresTheMigrationsSetLz4(string table, string column)
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var compression = await db.Database.SqlQuery<string>($"""
            SELECT attcompression::text AS "Value" FROM pg_attribute WHERE attrelid = {table}::regclass AND attname = {column}
            """).SingleAsync();
        Assert.Equal("l", compression);
    }

    [Fact]
    public async Task OnPostgresAStoredCallbackBodyIsCompressedWithLz4AndReadsBackWhole()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var job = new ProviderJobRecord
        {
            Id = Guid.NewGuid(), Provider = ProviderName.Precept, Lane = "precept",
            State = ProviderJobState.Submitted, CreatedAt = DateTimeOffset.UtcNow,
        };
        db.ProviderJobs.Add(job);
        var body = "{\"results\":[" + string.Join(",", Enumerable.Range(0, 300).Select(i => $"{{\"lead\":{i},\"email\":\"person{i}@example.com\"}}")) + "]}";
        var callback = new ProviderCallbackRecord { ProviderJobId = job.Id, ReceivedAt = DateTimeOffset.UtcNow, Body = body };
        db.ProviderCallbacks.Add(callback);
        await db.SaveChangesAsync();

        var stored = await db.Database.SqlQuery<string>($"""
            SELECT pg_column_compression("Body") AS "Value" FROM provider_callbacks WHERE "Id" = {callback.Id}
            """).SingleAsync();
        Assert.Equal("lz4", stored);
        db.ChangeTracker.Clear();
        Assert.Equal(body, (await db.ProviderCallbacks.AsNoTracking().SingleAsync(c => c.Id == callback.Id)).Body);
    }
}
