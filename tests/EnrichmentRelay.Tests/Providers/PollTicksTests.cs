using EnrichmentRelay.Ledger;
using EnrichmentRelay.Polling;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Providers;

public sealed class PollTicksTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task EachTickIsClaimedOnceWhoeverAsks()
    {
        async Task<bool> Claim(long tick) => await host.InScopeAsync(sp =>
            PollTicks.TryClaimAsync(sp.GetRequiredService<RelayDbContext>(), "woodpecker", tick, host.Time.GetUtcNow(), CancellationToken.None));

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Claim(7)));

        Assert.Single(concurrent, claimed => claimed);
        Assert.True(await Claim(8));
        Assert.False(await Claim(8));
    }
}
