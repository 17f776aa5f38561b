using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// Rows updated in bulk read back as the rows SaveChanges writes, on both engines; a row another writer changed since it
/// was loaded is not written and is reported; and a completion lost that way leaves by the winner request, attempt and
/// event as they were, while the rest of its unit of work is saved.
/// </summary>
public sealed class BulkUpdateTests
{
    static readonly DateTimeOffset At = new(2026, 12, 4, 9, 30, 0, 125, TimeSpan.Zero);

    static EnrichmentRequestRecord Waiting(Guid id) => new()
    {
        RequestId = id, State = RequestState.Submitted, Provider = ProviderName.Precept, Lane = "precept", RequestJson = "{}",
        AcceptedAt = At, SubmittedAt = At, Detail = "waiting", ProviderState = "queued", Version = 3,
    };

    static RequestAttemptRecord Open(Guid requestId) => new()
    {
        RequestId = requestId, Number = 1, Provider = ProviderName.Precept, Lane = "precept", JobId = Guid.Empty, StartedAt = At,
    };

    /// <summary>The changes a completion makes, in three shapes: every column set, one cleared (a null), and only a provider state.</summary>
    static void Change(int shape, EnrichmentRequestRecord request, RequestAttemptRecord attempt)
    {
        switch (shape)
        {
            case 0:
                request.State = RequestState.Completed;
                request.CompletedAt = At.AddSeconds(5);
                request.Outcome = Outcome.Found;
                request.EmailsJson = "[\"ada@example.com\"]";
                request.CreditsCharged = 2.5m;
                request.Detail = "trouvé ✓";
                attempt.CompletedAt = At.AddSeconds(5);
                attempt.Outcome = Outcome.Found;
                attempt.CreditsCharged = 2.5m;
                break;
            case 1:
                request.Detail = null;
                request.QueuedAt = At.AddSeconds(1);
                attempt.Detail = "moved on";
                break;
            default:
                request.ProviderState = "running";
                break;
        }
        request.Version++;
    }

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task ChangedRowsReadBackAsSaveChangesWritesThem(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        // Two copies of the same rows: SaveChanges writes the changes to one, the bulk update to the other.
        var saved = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToList();
        var bulk = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToList();
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.Requests.AddRange(saved.Concat(bulk).Select(Waiting));
            db.Attempts.AddRange(saved.Concat(bulk).Select(Open));
            await db.SaveChangesAsync();
        }

        async Task<(RelayDbContext, Dictionary<Guid, EnrichmentRequestRecord>, Dictionary<Guid, RequestAttemptRecord>)> ChangeAsync(
            IServiceProvider scoped, List<Guid> ids)
        {
            var db = scoped.GetRequiredService<RelayDbContext>();
            var requests = await db.Requests.Where(r => ids.Contains(r.RequestId)).ToDictionaryAsync(r => r.RequestId);
            var attempts = await db.Attempts.Where(a => ids.Contains(a.RequestId)).ToDictionaryAsync(a => a.RequestId);
            for (var i = 0; i < ids.Count; i++)
                Change(i, requests[ids[i]], attempts[ids[i]]);
            return (db, requests, attempts);
        }

        await using (var scope = services.CreateAsyncScope())
        {
            var (db, _, _) = await ChangeAsync(scope.ServiceProvider, saved);
            Assert.Equal(5, await db.SaveChangesAsync());
        }
        await using (var scope = services.CreateAsyncScope())
        {
            var (db, requests, _) = await ChangeAsync(scope.ServiceProvider, bulk);
            var takenRequests = db.TakeModified<EnrichmentRequestRecord>();
            var takenAttempts = db.TakeModified<RequestAttemptRecord>();
            Assert.Equal(3, takenRequests.Count);
            Assert.Equal(2, takenAttempts.Count); // the third shape changes no attempt
            await using var transaction = await db.Database.BeginTransactionAsync();
            Assert.Equal(0, await db.SaveChangesAsync()); // taken rows are no longer the save's to write
            Assert.Empty(await BulkUpdate.UpdateAsync<EnrichmentRequestRecord>(db, takenRequests, CancellationToken.None));
            Assert.Empty(await BulkUpdate.UpdateAsync<RequestAttemptRecord>(db, takenAttempts, CancellationToken.None));
            await transaction.CommitAsync();

            // Tracked as written: changed again, the row saves against its new version.
            requests[bulk[2]].ProviderState = "done";
            requests[bulk[2]].Version++;
            Assert.Equal(1, await db.SaveChangesAsync());
        }

        await using var check = services.CreateAsyncScope();
        var after = check.ServiceProvider.GetRequiredService<RelayDbContext>();
        var storedRequests = await after.Requests.AsNoTracking().ToDictionaryAsync(r => r.RequestId);
        var storedAttempts = await after.Attempts.AsNoTracking().ToDictionaryAsync(a => a.RequestId);
        for (var i = 0; i < 2; i++)
        {
            foreach (var column in typeof(EnrichmentRequestRecord).GetProperties().Where(p => p.Name is not
                         (nameof(EnrichmentRequestRecord.RequestId) or nameof(EnrichmentRequestRecord.ProviderJob))))
                Assert.True(Equals(column.GetValue(storedRequests[saved[i]]), column.GetValue(storedRequests[bulk[i]])),
                    $"{engine}, request {i}, {column.Name}: saved {column.GetValue(storedRequests[saved[i]])}, bulk {column.GetValue(storedRequests[bulk[i]])}");
            foreach (var column in typeof(RequestAttemptRecord).GetProperties().Where(p => p.Name is not
                         (nameof(RequestAttemptRecord.Id) or nameof(RequestAttemptRecord.RequestId))))
                Assert.True(Equals(column.GetValue(storedAttempts[saved[i]]), column.GetValue(storedAttempts[bulk[i]])),
                    $"{engine}, attempt {i}, {column.Name}: saved {column.GetValue(storedAttempts[saved[i]])}, bulk {column.GetValue(storedAttempts[bulk[i]])}");
        }
        Assert.Equal(2.5m, storedRequests[bulk[0]].CreditsCharged);
        Assert.Equal(Outcome.Found, storedRequests[bulk[0]].Outcome);
        Assert.Null(storedRequests[bulk[1]].Detail);
        Assert.Equal(("done", 5), (storedRequests[bulk[2]].ProviderState, storedRequests[bulk[2]].Version));
    }

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task ARowAnotherWriterChangedIsNotWrittenAndIsReported(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine);
        var services = ledger.Services;
        var contended = Guid.NewGuid();
        var free = Guid.NewGuid();
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.Requests.AddRange(Waiting(contended), Waiting(free));
            await db.SaveChangesAsync();
        }

        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            var requests = await db.Requests.ToDictionaryAsync(r => r.RequestId);
            // Meanwhile another writer completes one of them.
            await using (var other = services.CreateAsyncScope())
            {
                var otherDb = other.ServiceProvider.GetRequiredService<RelayDbContext>();
                var mine = await otherDb.Requests.SingleAsync(r => r.RequestId == contended);
                mine.State = RequestState.Completed;
                mine.Outcome = Outcome.NotFound;
                mine.Version++;
                await otherDb.SaveChangesAsync();
            }
            foreach (var request in requests.Values)
            {
                request.State = RequestState.Completed;
                request.Outcome = Outcome.Found;
                request.Version++;
            }
            await using var transaction = await db.Database.BeginTransactionAsync();
            var lost = await BulkUpdate.UpdateAsync<EnrichmentRequestRecord>(db, db.TakeModified<EnrichmentRequestRecord>(), CancellationToken.None);
            Assert.Equal(contended, ((EnrichmentRequestRecord)Assert.Single(lost).Entity).RequestId);
            await transaction.CommitAsync();
        }

        await using var check = services.CreateAsyncScope();
        var stored = await check.ServiceProvider.GetRequiredService<RelayDbContext>().Requests.AsNoTracking().ToDictionaryAsync(r => r.RequestId);
        Assert.Equal((Outcome.NotFound, 4), (stored[contended].Outcome!.Value, stored[contended].Version)); // the other writer's
        Assert.Equal((Outcome.Found, 4), (stored[free].Outcome!.Value, stored[free].Version));
    }

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task ACompletionLostToAnotherWriterLeavesTheWinnersRowsAndSavesTheRest(string engine)
    {
        var time = new FakeTimeProvider(At.AddMinutes(1));
        await using var ledger = await EngineLedgers.CreateAsync(engine, s =>
        {
            s.AddMetrics();
            s.AddSingleton<RelayMetrics>();
            s.AddSingleton<TimeProvider>(time);
            s.AddSingleton<OutboxSignal>();
            s.AddScoped<RequestCompletion>();
        });
        var services = ledger.Services;
        var contended = Guid.NewGuid();
        var free = Guid.NewGuid();
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.Requests.AddRange(Waiting(contended), Waiting(free));
            db.Attempts.AddRange(Open(contended), Open(free));
            await db.SaveChangesAsync();
        }

        async Task<(RequestCompletion, Dictionary<Guid, EnrichmentRequestRecord>, ILookup<Guid, RequestAttemptRecord>)> LoadAsync(IServiceProvider scoped)
        {
            var db = scoped.GetRequiredService<RelayDbContext>();
            var requests = await db.Requests.ToDictionaryAsync(r => r.RequestId);
            var attempts = (await db.Attempts.ToListAsync()).ToLookup(a => a.RequestId);
            return (scoped.GetRequiredService<RequestCompletion>(), requests, attempts);
        }

        await using var loser = services.CreateAsyncScope();
        var (loserCompletion, loserRequests, loserAttempts) = await LoadAsync(loser.ServiceProvider);
        await using (var winner = services.CreateAsyncScope())
        {
            var (completion, requests, attempts) = await LoadAsync(winner.ServiceProvider);
            var attempt = attempts[contended].Single();
            attempt.Detail = "by the winner";
            attempt.CompletedAt = time.GetUtcNow();
            Assert.True(completion.Complete(requests[contended], new CompletionResult(Outcome.NotFound, Detail: "by the winner"), attempts[contended].ToList()));
            await completion.SaveAsync(CancellationToken.None);
        }

        foreach (var id in new[] { contended, free })
        {
            var attempt = loserAttempts[id].Single();
            attempt.Detail = "by the loser";
            attempt.CompletedAt = time.GetUtcNow();
            Assert.True(loserCompletion.Complete(loserRequests[id], new CompletionResult(Outcome.Found, ["x@example.com"], Detail: "by the loser"),
                loserAttempts[id].ToList()));
        }
        await loserCompletion.SaveAsync(CancellationToken.None);
        // Reloaded: the loser now sees the request as the winner left it.
        Assert.Equal(Outcome.NotFound, loserRequests[contended].Outcome);

        await using var check = services.CreateAsyncScope();
        var after = check.ServiceProvider.GetRequiredService<RelayDbContext>();
        var stored = await after.Requests.AsNoTracking().ToDictionaryAsync(r => r.RequestId);
        var storedAttempts = await after.Attempts.AsNoTracking().ToDictionaryAsync(a => a.RequestId);
        Assert.Equal((Outcome.NotFound, "by the winner"), (stored[contended].Outcome!.Value, stored[contended].Detail));
        Assert.Equal("by the winner", storedAttempts[contended].Detail);
        Assert.Equal((Outcome.Found, "by the loser"), (stored[free].Outcome!.Value, stored[free].Detail));
        Assert.Equal("by the loser", storedAttempts[free].Detail);
        // One event per request: by the winner for the contended one, by the loser for the other.
        var events = await after.Outbox.AsNoTracking().ToListAsync();
        Assert.Equal(2, events.Count);
        Assert.Contains("by the winner", Assert.Single(events, e => e.MessageId == EnrichmentCompleted.EventIdFor(contended)).Body);
        Assert.Contains("by the loser", Assert.Single(events, e => e.MessageId == EnrichmentCompleted.EventIdFor(free)).Body);
    }
}
