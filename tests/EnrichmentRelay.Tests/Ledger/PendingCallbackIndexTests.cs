using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// On PostgreSQL the callback processor reads a job's pending callbacks through a partial index of the pending rows
/// alone. Through the full indexes on the job and on ProcessedAt, the server answered it with a bitmap AND of every
/// pending entry (dead ones too, until vacuumed) with the job's: 40% of its time while callbacks came in flat out.
/// </summary>
public sealed class PendingCallbackIndexTests
{
    [Fact]
    public async Task OnPostgresAJobsPendingCallbacksAreReadThroughThePartialIndexOfPendingRows()
    {
        await using var ledger = await EngineLedgers.PostgresAsync();
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var now = DateTimeOffset.UtcNow;
        // As when 32 KB callbacks come in flat out for 50 jobs: each job has its processed history and a few pending.
        var jobs = Enumerable.Range(0, 50).Select(_ => Job(now)).ToList();
        db.ProviderJobs.AddRange(jobs);
        foreach (var job in jobs)
            db.ProviderCallbacks.AddRange(Enumerable.Range(0, 40).Select(_ => Callback(job, now, processed: true)));
        foreach (var job in jobs)
            db.ProviderCallbacks.AddRange(Enumerable.Range(0, 10).Select(_ => Callback(job, now, processed: false)));
        var busy = jobs[7];
        var pending = Enumerable.Range(0, 3).Select(_ => Callback(busy, now, processed: false)).ToList();
        db.ProviderCallbacks.AddRange(pending);
        await db.SaveChangesAsync();
        await db.Database.ExecuteSqlRawAsync("ANALYZE");

        var plans = new PostgresPlans();
        await using var watched = plans.Watch(db);

        var read = await CallbackProcessor.PendingOfJob(watched, busy.Id).ToListAsync();

        Assert.Equal(13, read.Count);
        Assert.Equal(pending.Select(c => c.Id), read.TakeLast(3).Select(c => c.Id));
        var plan = await PostgresPlans.ExplainAsync(watched, plans.Queries.Last());
        Assert.True(plan.Contains("IX_provider_callbacks_PendingOfJob"), plan);
    }

    static ProviderJobRecord Job(DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid(), Provider = ProviderName.Precept, Lane = "precept", State = ProviderJobState.Submitted, CreatedAt = now,
    };

    static ProviderCallbackRecord Callback(ProviderJobRecord job, DateTimeOffset now, bool processed) => new()
    {
        ProviderJobId = job.Id, ReceivedAt = now, Body = "{\"status\":\"running\"}", ProcessedAt = processed ? now : null,
    };
}
