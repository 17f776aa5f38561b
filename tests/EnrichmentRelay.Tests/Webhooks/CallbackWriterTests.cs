using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace EnrichmentRelay.Tests.Webhooks;

/// <summary>
/// The webhook's group commit on both engines: one row the database refuses (PostgreSQL text cannot hold a NUL; SQLite,
/// which can, refuses a row without its body) costs only its own caller, not the others stored with it; the tokens of a
/// group are looked up together, and each caller learns what became of its own.
/// </summary>
public sealed class CallbackWriterTests
{
    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task OneRowTheDatabaseRefusesFailsOnlyItsOwnCaller(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        var (job, token) = await AddJobAsync(services, ProviderJobState.Submitted);
        var writer = Writer(services);
        var refused = engine == "Postgres" ? Row("{\"a\":\"\0\"}") : Row(null);
        // All queued before the writer runs: they go in one group commit.
        var stores = new[] { Row("{\"n\":1}"), refused, Row("{\"n\":2}"), Row("{\"n\":3}") }
            .Select(row => (row, writer.StoreAsync(token, row, CancellationToken.None))).ToList();
        await writer.StartAsync(CancellationToken.None);
        try
        {
            foreach (var (row, store) in stores)
            {
                if (ReferenceEquals(row, refused))
                    await Assert.ThrowsAnyAsync<Exception>(() => store.WaitAsync(TimeSpan.FromSeconds(30)));
                else
                    Assert.Equal(new CallbackStore(CallbackStoreOutcome.Stored, job), await store.WaitAsync(TimeSpan.FromSeconds(30)));
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

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task EachCallerOfAGroupLearnsWhatBecameOfItsOwnTokenAndOnlyLiveJobsGetRows(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        var (running, runningToken) = await AddJobAsync(services, ProviderJobState.Submitted);
        var (completed, completedToken) = await AddJobAsync(services, ProviderJobState.Completed);
        var (refusedJob, refusedToken) = await AddJobAsync(services, ProviderJobState.Refused);
        var writer = Writer(services);
        // All queued before the writer runs: one group, one lookup of its tokens.
        var stores = new[]
        {
            writer.StoreAsync(runningToken, Row("{\"n\":1}"), CancellationToken.None),
            writer.StoreAsync(CallbackTokens.NewToken(), Row("{\"n\":2}"), CancellationToken.None),
            writer.StoreAsync(completedToken, Row("{\"n\":3}"), CancellationToken.None),
            writer.StoreAsync(refusedToken, Row("{\"n\":4}"), CancellationToken.None),
            writer.StoreAsync(runningToken, Row("{\"n\":5}"), CancellationToken.None),
        };
        await writer.StartAsync(CancellationToken.None);
        try
        {
            var answers = await Task.WhenAll(stores).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(
            [
                new CallbackStore(CallbackStoreOutcome.Stored, running),
                new CallbackStore(CallbackStoreOutcome.UnknownToken, null),
                new CallbackStore(CallbackStoreOutcome.JobFinished, completed),
                new CallbackStore(CallbackStoreOutcome.JobFinished, refusedJob),
                new CallbackStore(CallbackStoreOutcome.Stored, running),
            ], answers);
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }

        await using var check = services.CreateAsyncScope();
        var stored = await check.ServiceProvider.GetRequiredService<RelayDbContext>().ProviderCallbacks
            .OrderBy(c => c.Body).Select(c => new { c.ProviderJobId, c.Body }).ToListAsync();
        Assert.Equal([new { ProviderJobId = running, Body = "{\"n\":1}" }, new { ProviderJobId = running, Body = "{\"n\":5}" }], stored);
    }

    static CallbackWriter Writer(IServiceProvider services) =>
        new(services.GetRequiredService<IServiceScopeFactory>(), new CallbackSignal(), NullLogger<CallbackWriter>.Instance);

    static ProviderCallbackRecord Row(string? body) => new() { ReceivedAt = DateTimeOffset.UtcNow, Body = body! };

    static async Task<(Guid Job, string Token)> AddJobAsync(IServiceProvider services, ProviderJobState state)
    {
        var token = CallbackTokens.NewToken();
        var job = Guid.NewGuid();
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        db.ProviderJobs.Add(new ProviderJobRecord
        {
            Id = job, Provider = EnrichmentRelay.Contracts.ProviderName.Precept, Lane = "precept",
            State = state, CreatedAt = DateTimeOffset.UtcNow, CallbackTokenHash = CallbackTokens.Hash(token),
        });
        await db.SaveChangesAsync();
        return (job, token);
    }
}
