using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.DeadLetters;

/// <summary>The end of the error pipe on the in-memory transport: the ledger keeps the message, or the error queue does.</summary>
public sealed class DeadLetterFilterTests : IAsyncLifetime
{
    public sealed record Poison(string Text);

    sealed class AlwaysFailing : IConsumer<Poison>
    {
        public Task Consume(ConsumeContext<Poison> context) => throw new InvalidOperationException("the provider is down");
    }

    readonly string databasePath = Path.Combine(Path.GetTempPath(), $"relay-dead-letters-{Guid.NewGuid():N}.db");
    readonly List<Poison> errorQueue = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(databasePath + suffix);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task AMessageThatKeepsFailingIsStoredWithItsBodyAndReason()
    {
        await using var provider = Bus(databasePath);
        await using (var scope = provider.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<RelayDbContext>().Database.MigrateAsync();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new Poison("hello"));

        var letter = await WaitForAsync(async () =>
        {
            await using var scope = provider.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<RelayDbContext>().DeadLetters.AsNoTracking().FirstOrDefaultAsync();
        });
        Assert.Equal("dead-letter-test", letter.Queue);
        Assert.Contains("the provider is down", letter.Reason);
        Assert.Equal(typeof(InvalidOperationException).FullName, letter.ExceptionType);
        Assert.Contains("hello", System.Text.Encoding.UTF8.GetString(letter.Body));
        Assert.True(await harness.Published.Any<Fault<Poison>>(), "a Fault event is still published");
        Assert.Empty(errorQueue);
    }

    [Fact]
    public async Task WithTheLedgerUnreachableTooItGoesToTheErrorQueueInstead()
    {
        // A database file in a folder that does not exist: every write fails.
        await using var provider = Bus(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "missing.db"));
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new Poison("kept anyway"));

        var moved = await WaitForAsync(() => Task.FromResult(errorQueue.FirstOrDefault()));
        Assert.Equal("kept anyway", moved.Text);
    }

    /// <summary>A bus on the in-memory transport whose endpoint fails every message, wired like the relay's own.</summary>
    ServiceProvider Bus(string ledgerPath)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(Options.Create(new BusOptions { Transport = BusTransport.InMemory, RetryIntervals = [] }));
        services.AddDbContext<SqliteRelayDbContext>(o => o.UseSqlite($"Data Source={ledgerPath}", LedgerExtensions.SqliteSettings));
        services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<SqliteRelayDbContext>());
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddConsumer<AlwaysFailing>();
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.ReceiveEndpoint("dead-letter-test", e =>
                {
                    e.UseRetriesThenDeadLetters(context);
                    e.ConfigureConsumer<AlwaysFailing>(context);
                });
                cfg.ReceiveEndpoint("dead-letter-test_error", e =>
                {
                    // Only what the error transport moves here, not the published messages themselves.
                    e.ConfigureConsumeTopology = false;
                    e.Handler<Poison>(c =>
                    {
                        lock (errorQueue)
                            errorQueue.Add(c.Message);
                        return Task.CompletedTask;
                    });
                });
            });
        });
        return services.BuildServiceProvider();
    }

    static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe) where T : class
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < until)
        {
            if (await probe() is { } found)
                return found;
            await Task.Delay(50);
        }
        throw new TimeoutException("Nothing arrived within 20 s.");
    }
}
