using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Cache;

/// <summary>
/// Gives requests that followed an identical one (<see cref="Coalescing"/>) its answer once it completed, in rounds, on
/// every instance: whichever instance completed the leader, and whichever stored the follower. Now and then it also
/// deletes in-flight rows whose leader has completed: only tidying, since the intake checks that a leader it finds is
/// still open (<see cref="Coalescing.LeadersAsync"/>). Doing that every round cost three instances more than half their
/// throughput: each round scanned every in-flight row and locked the same rows the other instances were deleting.
/// </summary>
public sealed class FollowerSweep(IServiceScopeFactory scopes, IOptions<CacheOptions> options, TimeProvider time, ILogger<FollowerSweep> logger)
    : BackgroundService
{
    const int RoundSize = 500;
    static readonly TimeSpan TidyInterval = TimeSpan.FromMinutes(1);
    DateTimeOffset lastTidy = DateTimeOffset.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var more = false;
            try
            {
                more = await SweepAsync(stoppingToken) == RoundSize;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Another instance completed some of the same followers first: the next round reads the ledger again.
                logger.LogInformation(ex, "A round of completing followers of identical requests failed; trying again shortly");
            }
            if (!more)
                await Task.Delay(options.Value.FollowerSweepInterval, time, stoppingToken);
        }
    }

    /// <summary>One round; returns how many followers it completed or put back in line.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var completion = scope.ServiceProvider.GetRequiredService<RequestCompletion>();
        // Followers whose leader has completed, or is not there at all (never: it is stored with its in-flight row).
        var followers = await db.Requests
            .Where(r => r.State == RequestState.Following && !db.Requests.Any(l => l.RequestId == r.LeaderRequestId && l.State != RequestState.Completed))
            .OrderBy(r => r.AcceptedAt).Take(RoundSize).ToListAsync(ct);
        if (followers.Count > 0)
        {
            var leaderIds = followers.Select(f => f.LeaderRequestId!.Value).Distinct().ToList();
            var leaders = await db.Requests.AsNoTracking().Where(r => leaderIds.Contains(r.RequestId)).ToDictionaryAsync(r => r.RequestId, ct);
            var attempts = (await db.Attempts.AsNoTracking().Where(a => leaderIds.Contains(a.RequestId)).ToListAsync(ct)).ToLookup(a => a.RequestId);
            var now = time.GetUtcNow();
            foreach (var follower in followers)
            {
                if (!leaders.TryGetValue(follower.LeaderRequestId!.Value, out var leader) || leader.Outcome is Outcome.Failed or Outcome.TimedOut)
                {
                    // Back in line, as a request of its own, for the provider it was routed to.
                    follower.State = RequestState.Accepted;
                    follower.Version++;
                    continue;
                }
                var shared = Coalescing.Shared(follower.RequestId, leader.RequestId, attempts[leader.RequestId], now);
                db.Attempts.AddRange(shared);
                follower.Provider = leader.Provider;
                follower.SkippedJson = leader.SkippedJson;
                completion.FinishWithoutCall(follower, Coalescing.ResultOf(leader), shared);
            }
            await completion.SaveAsync(ct);
            logger.LogInformation("{Count} requests that waited for an identical one in flight were answered or put back in line", followers.Count);
        }
        if (time.GetUtcNow() - lastTidy >= TidyInterval)
        {
            await db.InFlight.Where(f => !db.Requests.Any(r => r.RequestId == f.LeaderRequestId && r.State != RequestState.Completed)).ExecuteDeleteAsync(ct);
            lastTidy = time.GetUtcNow();
        }
        return followers.Count;
    }
}
