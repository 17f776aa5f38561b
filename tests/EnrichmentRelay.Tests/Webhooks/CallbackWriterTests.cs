using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace EnrichmentRelay.Tests.Webhooks;

/// <summary>
/// The webhook's group commit on both engines: one row the database refuses (PostgreSQL text cannot hold a NUL; SQLite,
/// which can, refuses a row without its body) costs only its own caller, not the others stored with it.
/// </summary>
public sealed class CallbackWriterTests
{
    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task OneRowTheDatabaseRefusesFailsOnlyItsOwnCaller(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        var job = Guid.NewGuid();
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.ProviderJobs.Add(new ProviderJobRecord
            {
                Id = job, Provider = EnrichmentRelay.Contracts.ProviderName.Precept, Lane = "precept",
                State = ProviderJobState.Submitted, CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }
        var writer = new CallbackWriter(services.GetRequiredService<IServiceScopeFactory>(), new CallbackSignal(), NullLogger<CallbackWriter>.Instance);
        ProviderCallbackRecord Row(string? body) => new() { ProviderJobId = job, ReceivedAt = DateTimeOffset.UtcNow, Body = body! };
        var refused = engine == "Postgres" ? Row("{\"a\":\"\0\"}") : Row(null);
        // All queued before the writer runs: they go in one group commit.
        var stores = new[] { Row("{\"n\":1}"), refused, Row("{\"n\":2}"), Row("{\"n\":3}") }
            .Select(row => (row, writer.StoreAsync(row, CancellationToken.None))).ToList();
        await writer.StartAsync(CancellationToken.None);
        try
        {
            foreach (var (row, store) in stores)
            {
                if (ReferenceEquals(row, refused))
                    await Assert.ThrowsAnyAsync<Exception>(() => store.WaitAsync(TimeSpan.FromSeconds(30)));
                else
                    await store.WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }

        await using var check = services.CreateAsyncScope();
        var stored = await check.ServiceProvider.GetRequiredService<RelayDbContext>().ProviderCallbacks.Select(c => c.Body).OrderBy(b => b).ToListAsync();
        Assert.Equal(["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"], stored);
    }
}
