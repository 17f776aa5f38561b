using System.Collections.Concurrent;
using System.Data.Common;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Outbox;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Tests.Outbox;

/// <summary>
/// The outbox's duplicate window, on each engine: rows are leased (not locked) while the broker is asked (PostgreSQL; SQLite
/// runs one instance and writes no leases), a round's confirms are recorded sent in one write, confirms the ledger could
/// not record are held and recorded before anything else goes out, and a row that can never be published becomes a
/// dead letter instead of blocking the rows behind it.
/// </summary>
public abstract class OutboxDispatcherTests : IAsyncLifetime
{
    protected static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    readonly LedgerOutage outage = new();
    protected readonly PublishGate gate = new();
    protected readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    EngineLedger ledger = null!;

    /// <summary>"Sqlite" or "Postgres" (<see cref="EngineLedgers"/>).</summary>
    protected abstract string Engine { get; }

    protected IServiceProvider Services => ledger.Services;

    public async Task InitializeAsync()
    {
        ledger = await EngineLedgers.CreateAsync(Engine, services =>
        {
            services.AddLogging();
            services.AddMetrics();
            services.AddFakeLogging();
            services.AddSingleton<RelayMetrics>();
            services.AddSingleton<TimeProvider>(time);
            services.AddSingleton<OutboxSignal>();
            services.AddMassTransitTestHarness();
            services.AddOptions<OutboxOptions>().Configure(o =>
            {
                o.Lease = Lease;
                o.MaxMessageBytes = 4096;
            });
            if (Engine == "Postgres")
                services.ConfigureDbContext<PostgresRelayDbContext>(o => o.AddInterceptors(outage));
            else
                services.ConfigureDbContext<SqliteRelayDbContext>(o => o.AddInterceptors(outage));
        });
        var harness = Services.GetRequiredService<ITestHarness>();
        await harness.Start();
        harness.Bus.ConnectPublishObserver(gate);
    }

    public async Task DisposeAsync() => await ledger.DisposeAsync();

    protected OutboxDispatcher NewInstance() => ActivatorUtilities.CreateInstance<OutboxDispatcher>(Services);

    [Fact]
    public async Task ARoundsConfirmsAreRecordedInOneWrite()
    {
        var staged = new List<OutboxMessage>();
        for (var i = 0; i < 20; i++)
            staged.Add(await StageAsync());

        Assert.Equal(20, await NewInstance().PublishBatchAsync(CancellationToken.None));

        Assert.All(await OutboxAsync(), row => Assert.NotNull(row.SentAt));
        Assert.Equal(1, outage.MarkWrites);
    }

    [Fact]
    public async Task ARowIsRecordedSentWithinTheMarkWindowOfItsConfirmNotAtTheEndOfARoundASlowPublishHoldsUp()
    {
        var (quick, slow) = (await StageAsync(), await StageAsync());
        gate.Hold(slow.MessageId);
        var dispatcher = NewInstance();

        var round = dispatcher.PublishBatchAsync(CancellationToken.None);
        await WaitUntilAsync(() => Task.FromResult(gate.Published(quick.MessageId) == 1));
        time.Advance(OutboxDispatcher.MarkWindow - TimeSpan.FromMilliseconds(1));
        Assert.Null((await RowAsync(quick)).SentAt);
        await WaitUntilAsync(async () =>
        {
            // The window's timer may start after an advance: step on until it fires.
            time.Advance(TimeSpan.FromMilliseconds(1));
            return (await RowAsync(quick)).SentAt is not null;
        });
        Assert.Null((await RowAsync(slow)).SentAt);
        gate.Release(slow.MessageId);
        Assert.Equal(2, await round);
        Assert.NotNull((await RowAsync(slow)).SentAt);
        Assert.Equal(1, gate.Published(quick.MessageId));
        Assert.Equal(1, gate.Published(slow.MessageId));
        Assert.Equal(2, outage.MarkWrites);
    }

    [Fact]
    public async Task ConfirmsTheLedgerCouldNotRecordAreHeldAndRecordedBeforeAnythingIsPublishedAgain()
    {
        var staged = new[] { await StageAsync(), await StageAsync(), await StageAsync() };
        foreach (var row in staged)
            gate.Hold(row.MessageId);
        using var unmarked = new MetricCollector<int>(Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            RelayMetrics.MeterName, "relay.outbox.unmarked");
        var dispatcher = NewInstance();

        // The ledger goes down while the broker has the messages: their confirms arrive, their marks fail.
        var round = dispatcher.PublishBatchAsync(CancellationToken.None);
        await WaitUntilAsync(() => Task.FromResult(staged.All(r => gate.Attempts(r.MessageId) == 1)));
        outage.Down = true;
        foreach (var row in staged)
            gate.Release(row.MessageId);
        Assert.Equal(3, await round);
        Assert.Equal(3, unmarked.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Contains(Logs(), l => l.Level == LogLevel.Warning && l.Message.Contains(
            "Holding 3 outbox messages the broker confirmed that the ledger could not record as sent"));

        // Still down: the round stops before claiming anything.
        await Assert.ThrowsAnyAsync<Exception>(() => dispatcher.PublishBatchAsync(CancellationToken.None));

        // Back: the held marks are written first, then only the new row is published.
        outage.Down = false;
        var later = await StageAsync();
        Assert.Equal(1, await dispatcher.PublishBatchAsync(CancellationToken.None));
        Assert.All(staged, row => Assert.Equal(1, gate.Published(row.MessageId)));
        Assert.Equal(1, gate.Published(later.MessageId));
        Assert.All(await OutboxAsync(), row => Assert.NotNull(row.SentAt));
        Assert.Equal(0, unmarked.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Contains(Logs(), l => l.Message.Contains("Recorded 3 outbox messages as sent that the broker had confirmed while the ledger was unreachable"));
    }

    [Fact]
    public async Task APublishStillUnconfirmedAtHalfTheLeaseIsGivenUpAndItsRowHandedBackForAnyInstance()
    {
        var row = await StageAsync();
        gate.Hold(row.MessageId);
        var dispatcher = NewInstance();

        var round = dispatcher.PublishBatchAsync(CancellationToken.None);
        await WaitUntilAsync(() => Task.FromResult(gate.Attempts(row.MessageId) == 1));
        time.Advance(Lease / 2);

        Assert.Equal(0, await round);
        var handedBack = await RowAsync(row);
        Assert.Null(handedBack.SentAt);
        Assert.Null(handedBack.LeasedBy);
        Assert.Null(handedBack.LeasedUntil);
        Assert.Contains(Logs(), l => l.Level == LogLevel.Warning && l.Message.Contains(
            "1 attempts to publish outbox messages ended without the broker's confirm, so up to that many copies may reach subscribers " +
            "(same MessageId); 1 of 1 messages are still unconfirmed"));

        // Another instance may take it at once: nobody waits for the rest of the lease.
        gate.Release(row.MessageId);
        Assert.Equal(1, await NewInstance().PublishBatchAsync(CancellationToken.None));
        Assert.Equal(1, gate.Published(row.MessageId));
    }

    [Fact]
    public async Task APublishTheBrokerRefusesGoesBackToTheQueueAndOutInTheNextRound()
    {
        var (refused, fine) = (await StageAsync(), await StageAsync());
        gate.FailNext(refused.MessageId);
        var dispatcher = NewInstance();

        Assert.Equal(1, await dispatcher.PublishBatchAsync(CancellationToken.None));
        Assert.Null((await RowAsync(refused)).SentAt);
        Assert.Contains(Logs(), l => l.Level == LogLevel.Warning && l.Message.StartsWith(
            "1 attempts to publish outbox messages ended without the broker's confirm") && l.Message.Contains("1 of 2 messages are still unconfirmed"));
        Assert.Equal(1, await dispatcher.PublishBatchAsync(CancellationToken.None));

        Assert.Equal(1, gate.Published(refused.MessageId));
        Assert.Equal(1, gate.Published(fine.MessageId));
        Assert.All(await OutboxAsync(), r => Assert.NotNull(r.SentAt));
    }

    [Fact]
    public async Task ARowThatCanNeverBePublishedBecomesADeadLetterAndTheRowsBehindItGoOut()
    {
        var unknown = await StageAsync(row => row.MessageType = "OrderShipped");
        var tooLarge = await StageAsync(row => row.Body = row.Body[..^1] + $",\"padding\":\"{new string('x', 5000)}\"}}");
        var unreadable = await StageAsync(row => row.Body = "{\"eventId\": not json");
        var fine = await StageAsync();

        Assert.Equal(1, await NewInstance().PublishBatchAsync(CancellationToken.None));

        Assert.Equal(1, gate.Published(fine.MessageId));
        Assert.Equal(new[] { fine.MessageId }, (await OutboxAsync()).Select(r => r.MessageId));
        var letters = await InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().DeadLetters.AsNoTracking().ToListAsync());
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.Equal(OutboxRows.DeadLetterQueue, l.Queue));
        Assert.Contains("Unknown message type 'OrderShipped'", letters.Single(l => l.MessageId == unknown.MessageId.ToString()).Reason);
        Assert.Contains("over Outbox:MaxMessageBytes (4,096)", letters.Single(l => l.MessageId == tooLarge.MessageId.ToString()).Reason);
        Assert.Equal(typeof(System.Text.Json.JsonException).FullName, letters.Single(l => l.MessageId == unreadable.MessageId.ToString()).ExceptionType);
        Assert.Equal(unknown.Body, System.Text.Encoding.UTF8.GetString(letters.Single(l => l.MessageId == unknown.MessageId.ToString()).Body));
    }

    [Fact]
    public async Task ReplayingAnOutboxDeadLetterStagesTheSameMessageInTheOutboxAgain()
    {
        var unknown = await StageAsync(row =>
        {
            row.MessageType = "OrderShipped";
            row.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        });
        await NewInstance().PublishBatchAsync(CancellationToken.None);
        Assert.Empty(await OutboxAsync());

        await InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            var replayer = ActivatorUtilities.CreateInstance<DeadLetterReplayer>(sp, db);
            await replayer.ReplayAsync(await db.DeadLetters.ToListAsync(), CancellationToken.None);
            return 0;
        });

        var restored = Assert.Single(await OutboxAsync());
        Assert.Equal((unknown.MessageId, unknown.MessageType, unknown.Body, unknown.TraceParent),
            (restored.MessageId, restored.MessageType, restored.Body, restored.TraceParent));
        Assert.Null(restored.SentAt);
        Assert.Null(restored.LeasedBy);
        var letter = Assert.Single(await InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().DeadLetters.AsNoTracking().ToListAsync()));
        Assert.Equal(1, letter.ReplayCount);
        Assert.NotNull(letter.ReplayedAt);
        Assert.Equal(0, gate.Attempts(unknown.MessageId)); // replayed into the outbox, not onto a queue
    }

    protected async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    protected Task<List<OutboxMessage>> OutboxAsync() =>
        InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Outbox.AsNoTracking().OrderBy(m => m.Id).ToListAsync());

    protected async Task<OutboxMessage> StageAsync(Action<OutboxMessage>? change = null)
    {
        var requestId = Guid.NewGuid();
        var completed = new EnrichmentCompleted
        {
            EventId = EnrichmentCompleted.EventIdFor(requestId), RequestId = requestId, Provider = ProviderName.Precept, Outcome = Outcome.NotFound,
            RequestedAt = time.GetUtcNow(), CompletedAt = time.GetUtcNow(),
        };
        var row = OutboxRows.For(completed, completed.EventId, time.GetUtcNow());
        change?.Invoke(row);
        await InScopeAsync(sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.Outbox.Add(row);
            return db.SaveChangesAsync();
        });
        return row;
    }

    protected Task<OutboxMessage> RowAsync(OutboxMessage row) =>
        InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Outbox.AsNoTracking().SingleAsync(m => m.Id == row.Id));

    protected Task<int> LeaseAsync(OutboxMessage row, string holder, DateTimeOffset until) =>
        InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Outbox.Where(m => m.Id == row.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeasedBy, holder).SetProperty(m => m.LeasedUntil, until)));

    protected IReadOnlyList<FakeLogRecord> Logs() => Services.GetFakeLogCollector().GetSnapshot();

    protected static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(10);
        }
    }

    /// <summary>Stands in for the broker's confirms: holds a publish attempt until released, or fails it, inside the transport's send.</summary>
    protected sealed class PublishGate : IPublishObserver
    {
        readonly ConcurrentDictionary<Guid, TaskCompletionSource> held = new();
        readonly ConcurrentDictionary<Guid, int> failNext = new();
        readonly ConcurrentDictionary<Guid, int> attempts = new();
        readonly ConcurrentDictionary<Guid, int> published = new();

        public void Hold(Guid messageId) => held[messageId] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        public void Release(Guid messageId) => held[messageId].TrySetResult();
        public void FailNext(Guid messageId) => failNext[messageId] = 1;
        public int Attempts(Guid messageId) => attempts.GetValueOrDefault(messageId);
        public int Published(Guid messageId) => published.GetValueOrDefault(messageId);

        public async Task PrePublish<T>(PublishContext<T> context) where T : class
        {
            var id = context.MessageId!.Value;
            attempts.AddOrUpdate(id, 1, (_, n) => n + 1);
            if (failNext.TryRemove(id, out _))
                throw new InvalidOperationException("the broker refused the message");
            if (held.TryGetValue(id, out var gate))
                await gate.Task.WaitAsync(context.CancellationToken);
        }

        public Task PostPublish<T>(PublishContext<T> context) where T : class
        {
            published.AddOrUpdate(context.MessageId!.Value, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }

        public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    /// <summary>The ledger unreachable: every statement fails while <see cref="Down"/> is set. Counts the writes that record rows sent.</summary>
    sealed class LedgerOutage : DbCommandInterceptor
    {
        public volatile bool Down;
        int markWrites;

        public int MarkWrites => Volatile.Read(ref markWrites);

        Exception Unreachable() => new InvalidOperationException("the ledger is unreachable");

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) =>
            Down ? throw Unreachable() : base.ReaderExecutingAsync(command, eventData, result, cancellationToken);

        public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            if (Down)
                throw Unreachable();
            if (command.CommandText.Contains("SET \"SentAt\""))
                Interlocked.Increment(ref markWrites);
            return base.NonQueryExecutingAsync(command, eventData, result, cancellationToken);
        }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<object> result, CancellationToken cancellationToken = default) =>
            Down ? throw Unreachable() : base.ScalarExecutingAsync(command, eventData, result, cancellationToken);
    }
}

public sealed class SqliteOutboxDispatcherTests : OutboxDispatcherTests
{
    protected override string Engine => "Sqlite";

    [Fact]
    public async Task NoLeaseIsWrittenAndWhatAnEarlierRunLeftIsPublishedAtOnceAndReported()
    {
        var leftByACrash = await StageAsync();
        await LeaseAsync(leftByACrash, "crashed-run", time.GetUtcNow() + Lease);
        var neverClaimed = await StageAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        var dispatcher = NewInstance();
        var mine = await StageAsync();

        Assert.Equal(3, await dispatcher.PublishBatchAsync(CancellationToken.None));

        Assert.All(new[] { leftByACrash, neverClaimed, mine }, row => Assert.Equal(1, gate.Published(row.MessageId)));
        Assert.All(await OutboxAsync(), row => Assert.NotNull(row.SentAt));
        Assert.Null((await RowAsync(mine)).LeasedBy);
        Assert.Contains(Logs(), l => l.Message.StartsWith("Publishing 2 outbox messages the relay's previous run left unsent"));
        Assert.DoesNotContain(Logs(), l => l.Message.Contains("Took over"));
    }
}

public sealed class PostgresOutboxDispatcherTests : OutboxDispatcherTests
{
    protected override string Engine => "Postgres";

    [Fact]
    public async Task ALiveLeaseKeepsOtherInstancesOffTheRowUntilItRunsOutThenOneTakesItOver()
    {
        var row = await StageAsync();
        await LeaseAsync(row, "crashed-instance", time.GetUtcNow() + Lease);
        var survivor = NewInstance();

        Assert.Equal(0, await survivor.PublishBatchAsync(CancellationToken.None));
        time.Advance(Lease - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await survivor.PublishBatchAsync(CancellationToken.None));
        Assert.Equal(0, gate.Attempts(row.MessageId));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await survivor.PublishBatchAsync(CancellationToken.None));
        Assert.Equal(1, gate.Published(row.MessageId));
        Assert.Equal(survivor.Holder, (await RowAsync(row)).LeasedBy);
        Assert.Contains(Logs(), l => l.Level == LogLevel.Warning && l.Message.Contains("Took over 1 outbox messages leased by crashed-instance"));
    }

    [Fact]
    public async Task TwoInstancesNeverBothPublishARowWhileItsLeaseLives()
    {
        var row = await StageAsync();
        gate.Hold(row.MessageId);
        var (first, second) = (NewInstance(), NewInstance());

        var firstRound = first.PublishBatchAsync(CancellationToken.None);
        await WaitUntilAsync(() => Task.FromResult(gate.Attempts(row.MessageId) == 1));
        Assert.Equal(0, await second.PublishBatchAsync(CancellationToken.None));
        gate.Release(row.MessageId);
        Assert.Equal(1, await firstRound);
        Assert.Equal(0, await second.PublishBatchAsync(CancellationToken.None));

        Assert.Equal(1, gate.Attempts(row.MessageId));
        Assert.Equal(first.Holder, (await RowAsync(row)).LeasedBy);
        Assert.DoesNotContain(Logs(), l => l.Message.Contains("Took over"));
    }

    [Fact]
    public async Task ARoundLeasesItsRowsToThisInstanceForTheLease()
    {
        var row = await StageAsync();
        gate.Hold(row.MessageId);
        var dispatcher = NewInstance();
        var leasedAt = time.GetUtcNow();

        var round = dispatcher.PublishBatchAsync(CancellationToken.None);
        await WaitUntilAsync(() => Task.FromResult(gate.Attempts(row.MessageId) == 1));
        var leased = await RowAsync(row);
        Assert.Equal((dispatcher.Holder, leasedAt + Lease), (leased.LeasedBy, leased.LeasedUntil));
        gate.Release(row.MessageId);
        Assert.Equal(1, await round);
        Assert.DoesNotContain(Logs(), l => l.Message.Contains("previous run left unsent"));
    }
}
