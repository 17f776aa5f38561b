using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using System.Data.Common;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// Rows inserted in bulk read back as the rows SaveChanges writes, on both engines: every column, nulls, enums stored as
/// text, instants, decimals; a key the database generates is its own; a repeated key fails the whole statement.
/// </summary>
public sealed class BulkInsertTests
{
    static readonly DateTimeOffset At = new(2026, 12, 3, 16, 45, 12, 345, TimeSpan.Zero);

    /// <summary>One request with every column set, one with every optional column empty.</summary>
    static List<EnrichmentRequestRecord> Requests() =>
    [
        new()
        {
            RequestId = Guid.NewGuid(), State = RequestState.Completed, Provider = ProviderName.Lance, Lane = "lance",
            RequestJson = "{\"requestId\":\"x\"}", AcceptedAt = At, QueuedAt = At.AddSeconds(1), SubmittedAt = At.AddSeconds(2),
            CompletedAt = At.AddSeconds(3), Outcome = Outcome.Found, EmailsJson = "[\"a@b.c\"]", PhonesJson = "[]", Detail = "détail ✓",
            CreditsCharged = 1.2345m, ProviderState = "done", TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            Version = 7, Revision = 2, FieldsJson = "[\"email\"]", SkippedJson = "[]", LeaderRequestId = Guid.NewGuid(),
        },
        new() { RequestId = Guid.NewGuid(), State = RequestState.Accepted, RequestJson = "{}", AcceptedAt = At },
    ];

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task BulkRowsReadBackAsSaveChangesWritesThem(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        var bulk = Requests();
        var saved = Requests();
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.Requests.AddRange(saved);
            await db.SaveChangesAsync();
            await using var transaction = await db.Database.BeginTransactionAsync();
            await BulkInsert.InsertAsync(db, bulk, CancellationToken.None);
            await transaction.CommitAsync();
        }

        await using var check = services.CreateAsyncScope();
        var stored = await check.ServiceProvider.GetRequiredService<RelayDbContext>().Requests.AsNoTracking().ToDictionaryAsync(r => r.RequestId);
        Assert.Equal(4, stored.Count);
        for (var i = 0; i < bulk.Count; i++)
        {
            // The row SaveChanges wrote from the same values, under its own key, is the reference.
            var expected = stored[saved[i].RequestId];
            var actual = stored[bulk[i].RequestId];
            foreach (var column in typeof(EnrichmentRequestRecord).GetProperties()
                         .Where(p => p.Name is not (nameof(EnrichmentRequestRecord.RequestId) or nameof(EnrichmentRequestRecord.LeaderRequestId)
                             or nameof(EnrichmentRequestRecord.ProviderJob))))
                Assert.True(Equals(column.GetValue(expected), column.GetValue(actual)),
                    $"{engine}, row {i}, {column.Name}: saved {column.GetValue(expected)}, bulk {column.GetValue(actual)}");
            Assert.Equal(bulk[i].LeaderRequestId, actual.LeaderRequestId);
        }
        Assert.Equal(At.AddSeconds(3), stored[bulk[0].RequestId].CompletedAt);
        Assert.Equal(1.2345m, stored[bulk[0].RequestId].CreditsCharged);
        Assert.Null(stored[bulk[1].RequestId].Provider);
    }

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task AnIdentityKeyIsTheDatabasesAndARepeatedKeyFailsTheWholeStatement(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        var requestId = Guid.NewGuid();
        RequestAttemptRecord Attempt(int number) => new()
        {
            RequestId = requestId, Number = number, Provider = ProviderName.Precept, Lane = "precept", JobId = Guid.NewGuid(), StartedAt = At,
        };
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            await using (var transaction = await db.Database.BeginTransactionAsync())
            {
                await BulkInsert.InsertAsync(db, [Attempt(1), Attempt(2)], CancellationToken.None);
                await transaction.CommitAsync();
            }
            // (RequestId, Number) is unique: the second 2 fails, and with the transaction not committed its 3 is not kept either.
            await using (var transaction = await db.Database.BeginTransactionAsync())
                await Assert.ThrowsAnyAsync<DbException>(() => BulkInsert.InsertAsync(db, [Attempt(3), Attempt(2)], CancellationToken.None));
        }

        await using var check = services.CreateAsyncScope();
        var stored = await check.ServiceProvider.GetRequiredService<RelayDbContext>().Attempts.AsNoTracking().OrderBy(a => a.Number).ToListAsync();
        Assert.Equal([1, 2], stored.Select(a => a.Number));
        Assert.Equal(2, stored.Select(a => a.Id).Distinct().Count());
        Assert.All(stored, a => Assert.True(a.Id > 0));
    }

    [Fact]
    public async Task WithoutATransactionItRefusesToRun()
    {
        await using var ledger = await EngineLedgers.CreateAsync("Sqlite");
        var services = ledger.Services;
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        await Assert.ThrowsAsync<InvalidOperationException>(() => BulkInsert.InsertAsync(db, Requests(), CancellationToken.None));
    }
}
