using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Jobs;

/// <summary>The cross-instance lock's try: on PostgreSQL a key one session holds is refused to another until released; on SQLite, one instance alone, it is always given.</summary>
public sealed class LedgerAdvisoryLockTests
{
    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task AKeyHeldByOneInstanceIsRefusedToAnotherUntilReleased(string engine)
    {
        var options = engine == "Postgres"
            ? new LedgerOptions { Engine = LedgerEngine.Postgres, ConnectionString = Environment.GetEnvironmentVariable("RELAY_TEST_POSTGRES")! }
            : new LedgerOptions();
        // Two instances: each its own lock object, as each relay process has.
        var one = new LedgerAdvisoryLock(Options.Create(options));
        var other = new LedgerAdvisoryLock(Options.Create(options));
        var key = Random.Shared.NextInt64();

        var held = await one.TryTakeAsync(key, CancellationToken.None);
        Assert.NotNull(held);
        var second = await other.TryTakeAsync(key, CancellationToken.None);
        await using (var freeKey = await other.TryTakeAsync(key + 1, CancellationToken.None))
            Assert.NotNull(freeKey);
        if (engine == "Postgres")
            Assert.Null(second);
        else
            Assert.NotNull(second);

        await held!.DisposeAsync();
        await using var afterRelease = await other.TryTakeAsync(key, CancellationToken.None);
        Assert.NotNull(afterRelease);
        if (second is not null)
            await second.DisposeAsync();
    }
}
