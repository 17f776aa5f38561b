using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// Reads the relay repeats for each job, or every few seconds, must cost what they read, not what the ledger keeps: on
/// PostgreSQL no such read scans the requests or attempts table whole. Both did (a job's read OR-ed an index with a
/// subquery; the open-requests gauge asked for "not completed"), which in a run on a ledger of 120,000 requests made
/// them the server's two largest costs.
/// </summary>
public sealed class LedgerScanTests
{
    const int Jobs = 200, Leads = 100;

    [Fact]
    public async Task OnPostgresAJobIsReadThroughIndexesItsRequestsThatWentOnAndThoseFromBeforeAttemptsIncluded()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var now = DateTimeOffset.UtcNow;
        var jobs = Enumerable.Range(0, Jobs).Select(_ => Job(now)).ToList();
        db.ProviderJobs.AddRange(jobs);
        await db.SaveChangesAsync();
        var sent = jobs.SelectMany(job => Enumerable.Range(0, Leads).Select(_ => (Job: job, Request: Request(RequestState.Completed, now, job.Id)))).ToList();
        await InsertAsync(db, sent.Select(s => s.Request).ToList());
        await InsertAsync(db, sent.Select(s => Attempt(s.Request, s.Job, number: 1, now)).ToList());
        var read = jobs[17];
        // One of its requests went on to another provider (and was tried there), one is from before attempts were recorded.
        var wentOn = Request(RequestState.Submitted, now, jobs[3].Id);
        db.Requests.Add(wentOn);
        db.Attempts.AddRange(Attempt(wentOn, read, number: 1, now), Attempt(wentOn, jobs[3], number: 2, now));
        var older = Request(RequestState.Submitted, now, read.Id);
        db.Requests.Add(older);
        await db.SaveChangesAsync();
        await db.Database.ExecuteSqlRawAsync("ANALYZE");

        var plans = new PostgresPlans();
        await using var watched = plans.Watch(db);
        var work = await JobResults.ReadAsync(watched, read, CancellationToken.None);

        Assert.Equal(Leads + 2, work.Requests.Count);
        Assert.Contains(wentOn.RequestId, work.Requests.Keys);
        Assert.Contains(older.RequestId, work.Requests.Keys);
        Assert.Equal([1, 2], work.AttemptsOf(wentOn.RequestId).Select(a => a.Number).Order());
        Assert.Empty(work.AttemptsOf(older.RequestId));
        AssertNoTableScanned(await plans.ExplainAsync(watched));
    }

    [Fact]
    public async Task OnPostgresTheOpenRequestsGaugeReadsTheOpenRequestsAlone()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var now = DateTimeOffset.UtcNow;
        await InsertAsync(db, Enumerable.Range(0, Jobs * Leads).Select(_ => Request(RequestState.Completed, now, null)).ToList());
        db.Requests.AddRange(new[] { RequestState.Accepted, RequestState.Submitted, RequestState.Following }
            .SelectMany(state => Enumerable.Range(0, 5).Select(_ => Request(state, now, null))));
        await db.SaveChangesAsync();
        await db.Database.ExecuteSqlRawAsync("ANALYZE");

        var plans = new PostgresPlans();
        await using var watched = plans.Watch(db);
        var open = await LedgerGaugeSampler.OpenByProviderAndState(watched).ToListAsync();

        // Every state but Completed is counted (a state added to the enum must be added to the gauge's list too).
        Assert.Equal(Enum.GetValues<RequestState>().Where(s => s != RequestState.Completed).Order(), open.Select(g => g.State).Order());
        Assert.All(open, g => Assert.Equal(5, g.Count));
        AssertNoTableScanned(await plans.ExplainAsync(watched));
    }

    [Fact]
    public async Task OnPostgresAnOutboxClaimWalksTheUnsentIndexInOrderWhenTheStatisticsSayFewRowsAreUnsent()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var now = DateTimeOffset.UtcNow;
        // Analyzed between bursts (a few unsent among many sent), then a burst: a job's thousands of completions.
        await InsertAsync(db, Enumerable.Range(0, Jobs * Leads).Select(_ => Message(now, sent: true)).ToList());
        await InsertAsync(db, Enumerable.Range(0, 20).Select(_ => Message(now, sent: false)).ToList());
        await db.Database.ExecuteSqlRawAsync("ANALYZE");
        await InsertAsync(db, Enumerable.Range(0, 3_000).Select(_ => Message(now, sent: false)).ToList());
        var oldest = await db.Outbox.Where(m => m.SentAt == null).OrderBy(m => m.Id).Select(m => m.Id).Take(200).ToListAsync();

        var plans = new PostgresPlans();
        await using var watched = plans.Watch(db);
        var claim = await OutboxLedger.ClaimAsync(watched, "instance-a", now, TimeSpan.FromSeconds(30), limit: 200, CancellationToken.None);

        Assert.Equal(oldest, claim.Rows.Select(r => r.Id));
        var ids = plans.Queries.Single(q => q.Text.Contains("SKIP LOCKED", StringComparison.Ordinal));
        Assert.Contains(plans.Statements.TakeWhile(s => s != ids.Text), s => s.Contains("enable_bitmapscan = off", StringComparison.Ordinal));
        // As the planner would have it, it walks the unsent rows' index too, now that no other index holds their nulls: with
        // IX_outbox_SentAt whole (nulls included) it read every unsent row through a bitmap and sorted them, for 200.
        // QueueReads stays for the statistics a running relay leaves, which this ledger cannot reproduce.
        Assert.Contains("Index Scan using \"IX_outbox_Unsent\"", await PostgresPlans.ExplainAsync(db, ids));
        // As the claim runs: the unsent rows' index walked in order, and each row read by its id; no step meets more
        // than a claim's worth of rows (joined to the whole table, one step met every row, 4.6 million times filtered).
        await using var transaction = await db.Database.BeginTransactionAsync();
        await QueueReads.InIndexOrderAsync(db, CancellationToken.None);
        Assert.Contains("Index Scan using \"IX_outbox_Unsent\"", await PostgresPlans.ExplainAsync(db, ids));
        foreach (var query in plans.Queries)
        {
            var plan = await PostgresPlans.ExplainAsync(db, query, analyze: true);
            Assert.True(PostgresPlans.MostRowsMet(plan) <= 400, plan);
        }
        await transaction.RollbackAsync();
    }

    /// <summary>A ledger of many rows, quickly.</summary>
    static async Task InsertAsync<T>(RelayDbContext db, IReadOnlyCollection<T> rows) where T : class
    {
        await using var transaction = await db.Database.BeginTransactionAsync();
        await BulkInsert.InsertAsync(db, rows, CancellationToken.None);
        await transaction.CommitAsync();
    }

    static void AssertNoTableScanned(List<string> plans)
    {
        Assert.NotEmpty(plans);
        foreach (var plan in plans)
            Assert.False(plan.Contains("Seq Scan", StringComparison.Ordinal), plan);
    }

    static ProviderJobRecord Job(DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid(), Provider = ProviderName.Precept, Lane = "precept", State = ProviderJobState.Completed, CreatedAt = now,
    };

    static EnrichmentRequestRecord Request(RequestState state, DateTimeOffset now, Guid? jobId) => new()
    {
        RequestId = Guid.NewGuid(), State = state, Provider = ProviderName.Precept, Lane = "precept", ProviderJobId = jobId,
        RequestJson = "{\"requestId\":\"x\",\"email\":\"someone@example.com\"}", AcceptedAt = now,
    };

    static OutboxMessage Message(DateTimeOffset now, bool sent) => new()
    {
        MessageId = Guid.NewGuid(), MessageType = "EnrichmentCompleted", Body = new string('x', 2_000), CreatedAt = now, SentAt = sent ? now : null,
    };

    static RequestAttemptRecord Attempt(EnrichmentRequestRecord request, ProviderJobRecord job, int number, DateTimeOffset now) => new()
    {
        RequestId = request.RequestId, Number = number, Provider = job.Provider, Lane = job.Lane, JobId = job.Id, StartedAt = now,
    };
}
