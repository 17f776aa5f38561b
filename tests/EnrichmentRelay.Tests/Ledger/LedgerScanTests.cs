using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
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

    static RequestAttemptRecord Attempt(EnrichmentRequestRecord request, ProviderJobRecord job, int number, DateTimeOffset now) => new()
    {
        RequestId = request.RequestId, Number = number, Provider = job.Provider, Lane = job.Lane, JobId = job.Id, StartedAt = now,
    };
}
