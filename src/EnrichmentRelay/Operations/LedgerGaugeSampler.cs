using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Operations;

/// <summary>
/// Reads the ledger's gauges (outbox lag and backlog, open requests, dead letters) in the background, so a scrape never
/// waits on the database and a slow database cannot stall <c>/metrics</c>. A reading is taken at start and then after
/// each collection that reported the last one, at most once an <see cref="Interval"/>: counting a large backlog of open
/// requests is the dearest query the relay runs on a timer (65 ms for 20,000 open requests on PostgreSQL), and read on
/// a fixed beat it cost the database its time under load whether anyone looked or not. A scrape reports the reading
/// its previous scrape asked for, so the gauges are as old as the scrape interval.
/// </summary>
public sealed class LedgerGaugeSampler(
    IServiceScopeFactory scopes,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<LedgerGaugeSampler> logger) : BackgroundService
{
    /// <summary>The shortest time between two readings, whoever collects how often (dotnet-counters does every second).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                metrics.Observe(await ReadAsync(stoppingToken));
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The last reading stays; the ledger's own health check reports an outage.
                logger.LogWarning(ex, "Reading the ledger gauges failed; keeping the last reading");
            }
            await Task.Delay(Interval, time, stoppingToken);
            await metrics.LedgerGaugesCollected.WaitAsync(stoppingToken);
        }
    }

    internal async Task<LedgerReadings> ReadAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var now = time.GetUtcNow();

        DateTimeOffset? oldestUnsent;
        long pending;
        await using (var reading = db.Database.IsNpgsql() ? await db.Database.BeginTransactionAsync(ct) : null)
        {
            await QueueReads.InIndexOrderAsync(db, ct);
            var unsent = db.Outbox.AsNoTracking().Where(m => m.SentAt == null);
            oldestUnsent = await unsent.OrderBy(m => m.Id).Select(m => (DateTimeOffset?)m.CreatedAt).FirstOrDefaultAsync(ct);
            pending = await unsent.LongCountAsync(ct);
        }

        var open = (await OpenByProviderAndState(db).ToListAsync(ct))
            .Select(g => new OpenRequests(g.Provider, g.State.ToString().ToLowerInvariant(), g.Count, Math.Max(0, (now - g.Oldest).TotalSeconds)))
            .ToList();

        // The ones still waiting for an operator: a replayed letter has been dealt with.
        var deadLetters = await db.DeadLetters.AsNoTracking().LongCountAsync(d => d.ReplayedAt == null, ct);
        var needingAttention = await db.ProviderJobs.AsNoTracking()
            .Where(j => j.State == ProviderJobState.NeedsAttention)
            .GroupBy(j => j.Provider)
            .Select(g => new { Provider = g.Key, Count = g.LongCount() })
            .ToDictionaryAsync(g => g.Provider, g => g.Count, ct);
        var lag = oldestUnsent is { } created ? Math.Max(0, (now - created).TotalSeconds) : 0;
        return new LedgerReadings(lag, pending, deadLetters, open, needingAttention);
    }

    /// <summary>
    /// The requests not completed, counted by provider and state, with the oldest of each. Every state but Completed is
    /// named: an index on State then reads the open rows alone, where "State &lt;&gt; Completed" made PostgreSQL read every
    /// request the ledger keeps, at each reading.
    /// </summary>
    internal static IQueryable<OpenGroup> OpenByProviderAndState(RelayDbContext db) => db.Requests.AsNoTracking()
        .Where(r => r.State == RequestState.Accepted || r.State == RequestState.Submitted || r.State == RequestState.Following)
        .GroupBy(r => new { r.Provider, r.State })
        .Select(g => new OpenGroup(g.Key.Provider, g.Key.State, g.LongCount(), g.Min(r => r.AcceptedAt)));

    internal sealed record OpenGroup(ProviderName? Provider, RequestState State, long Count, DateTimeOffset Oldest);
}
