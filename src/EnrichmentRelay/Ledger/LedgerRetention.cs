using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// Deletes bookkeeping the relay no longer needs once it is older than <see cref="LedgerOptions.Retention"/>:
/// poll-tick keys, applied raw callbacks, provider answers no open job needs, published outbox rows and dead letters
/// already replayed; and identity cache rows past their own expiry (<c>Cache:FoundFor</c>, <c>Cache:NotFoundFor</c>),
/// whatever the retention. Requests, jobs and unreplayed dead letters are kept: they are the audit trail, and a request's
/// terminal state is what recognises a late or repeated callback. The retention is at least 7 days, so the raw
/// callbacks and answers of the last week are always there to audit.
/// </summary>
public sealed class LedgerRetention(IServiceScopeFactory scopes, IOptions<LedgerOptions> options, TimeProvider time, ILogger<LedgerRetention> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await DeleteExpiredAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Ledger clean-up failed; trying again at the next interval");
            }
            await Task.Delay(options.Value.RetentionSweepInterval, time, stoppingToken);
        }
    }

    /// <summary>One clean-up round; returns how many rows went. Safe with several instances doing it at once.</summary>
    public async Task<int> DeleteExpiredAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var cutoff = now - options.Value.Retention;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        var deleted = await db.Inbox.Where(i => i.ProcessedAt < cutoff).ExecuteDeleteAsync(ct)
                      + await db.ProviderCallbacks.Where(c => c.ProcessedAt < cutoff).ExecuteDeleteAsync(ct)
                      + await db.Outbox.Where(m => m.SentAt < cutoff).ExecuteDeleteAsync(ct)
                      + await db.DeadLetters.Where(d => d.ReplayedAt < cutoff).ExecuteDeleteAsync(ct)
                      + await DeleteAnswersAsync(db, cutoff, ct)
                      + await db.IdentityCache.Where(c => c.ExpiresAt <= now).ExecuteDeleteAsync(ct);
        if (deleted > 0)
            logger.LogInformation("Ledger clean-up removed {Count} rows older than {Cutoff}", deleted, cutoff);
        return deleted;
    }

    /// <summary>
    /// Provider answers go like the callbacks they sit beside: once past the retention, unless a job they were read for
    /// is still open (its answers are its audit until it ends).
    /// </summary>
    static async Task<int> DeleteAnswersAsync(RelayDbContext db, DateTimeOffset cutoff, CancellationToken ct)
    {
        var expired = db.ProviderAnswers.Where(a => a.ReceivedAt < cutoff && !db.ProviderAnswerLinks.Any(l => l.AnswerId == a.Id
            && db.ProviderJobs.Any(j => j.Id == l.JobId && j.CompletedAt == null)));
        var links = await db.ProviderAnswerLinks.Where(l => expired.Any(a => a.Id == l.AnswerId)).ExecuteDeleteAsync(ct);
        return links + await expired.ExecuteDeleteAsync(ct);
    }
}
