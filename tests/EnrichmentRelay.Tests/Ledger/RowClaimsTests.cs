using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// Claims on PostgreSQL skip the rows another instance holds locked (<c>FOR UPDATE SKIP LOCKED</c>), and a claim that
/// comes back short says how many rows it passed over: those it had room for, not the whole backlog behind them.
/// </summary>
public sealed class RowClaimsTests
{
    const string Lane = "precept";

    [Fact]
    public async Task OnPostgresAShortClaimPassesOverTheLockedRowsItHadRoomForAndCountsNoFurther()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        var now = DateTimeOffset.UtcNow;
        await using (var scope = ledger.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.Requests.AddRange(Enumerable.Range(0, 20).Select(i => new EnrichmentRequestRecord
            {
                RequestId = Guid.NewGuid(), State = RequestState.Accepted, Provider = ProviderName.Precept, Lane = Lane,
                RequestJson = "{}", AcceptedAt = now.AddMilliseconds(i),
            }));
            await db.SaveChangesAsync();
        }

        // Another instance holds the 12 oldest.
        await using var otherScope = ledger.Services.CreateAsyncScope();
        var other = otherScope.ServiceProvider.GetRequiredService<RelayDbContext>();
        await using var otherClaim = await RowClaims.BeginAsync(other, CancellationToken.None);
        var held = await RowClaims.AcceptedRequests(other, Lane, 12).ToListAsync();
        Assert.Equal(12, held.Count);

        await using var mineScope = ledger.Services.CreateAsyncScope();
        var mine = mineScope.ServiceProvider.GetRequiredService<RelayDbContext>();
        await using var myClaim = await RowClaims.BeginAsync(mine, CancellationToken.None);
        var taken = await RowClaims.AcceptedRequests(mine, Lane, 10).ToListAsync();

        Assert.Equal(8, taken.Count);
        Assert.Empty(taken.Select(r => r.RequestId).Intersect(held.Select(r => r.RequestId)));
        // Room for 10, 8 taken: 2 passed over (of the 12 held, the 10 others were beyond this claim's size).
        Assert.Equal(2, await RowClaims.PassedOverAsync(mine, RowClaims.Accepted(mine, Lane), taken.Count, 10, CancellationToken.None));
        // A claim with room for all 20 passed over all 12.
        Assert.Equal(12, await RowClaims.PassedOverAsync(mine, RowClaims.Accepted(mine, Lane), taken.Count, 20, CancellationToken.None));
        // A full claim lost nothing.
        Assert.Equal(0, await RowClaims.PassedOverAsync(mine, RowClaims.Accepted(mine, Lane), 8, 8, CancellationToken.None));
    }
}
