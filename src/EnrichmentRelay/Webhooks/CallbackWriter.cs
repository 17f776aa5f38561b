using System.Threading.Channels;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Webhooks;

/// <summary>What became of a callback handed to <see cref="CallbackWriter"/>.</summary>
/// <param name="JobId">The job its token names; null when none does.</param>
public sealed record CallbackStore(CallbackStoreOutcome Outcome, Guid? JobId);

public enum CallbackStoreOutcome
{
    /// <summary>Committed, for the job its token names.</summary>
    Stored,
    /// <summary>No Precept job has this token: nothing stored.</summary>
    UnknownToken,
    /// <summary>Its job is finished and its token spent: nothing stored.</summary>
    JobFinished,
}

/// <summary>
/// Stores webhook bodies for the endpoint with a group commit: the callbacks waiting at that moment have their tokens
/// looked up in one query and their rows inserted in one transaction, and each caller is answered only once its row is
/// committed. The promise "stored before the 202" holds; what is saved is a transaction (and, on SQLite, a sync to disk)
/// per callback, which under load made callers queue behind each other and behind the callback processor for the
/// database's one writer, and on PostgreSQL a round trip per callback for its token.
/// </summary>
public sealed class CallbackWriter(IServiceScopeFactory scopes, CallbackSignal signal, ILogger<CallbackWriter> logger) : BackgroundService
{
    const int MaxRowsPerCommit = 500;

    sealed record Pending(string Token, ProviderCallbackRecord Row, TaskCompletionSource<CallbackStore> Stored);

    readonly Channel<Pending> queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(10_000) { SingleReader = true });

    /// <summary>
    /// Stores <paramref name="row"/> for the Precept job whose callback token is <paramref name="token"/> (its
    /// <see cref="ProviderCallbackRecord.ProviderJobId"/> is set here), unless no job has that token or the job is finished.
    /// Completes once the row is committed; throws if the commit failed.
    /// </summary>
    public async Task<CallbackStore> StoreAsync(string token, ProviderCallbackRecord row, CancellationToken ct)
    {
        var stored = new TaskCompletionSource<CallbackStore>(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.Writer.WriteAsync(new Pending(token, row, stored), ct);
        return await stored.Task.WaitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>();
        while (await queue.Reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            while (batch.Count < MaxRowsPerCommit && queue.Reader.TryRead(out var item))
                batch.Add(item);
            if (await TrySaveAsync(batch, stoppingToken) is { } failure)
            {
                // One row the database refuses must not cost the others their answer: each is tried alone, so only the
                // caller whose row fails answers 500 (and Precept retries it); nothing was stored for it, nothing is lost.
                logger.LogWarning(failure, "Storing {Count} webhook callbacks together failed; storing them one by one", batch.Count);
                if (stoppingToken.IsCancellationRequested)
                {
                    Fail(batch, failure);
                    return;
                }
                foreach (var item in batch)
                    if (await TrySaveAsync([item], stoppingToken) is { } alone)
                    {
                        logger.LogWarning(alone, "Storing a webhook callback for job {ProviderJobId} failed", item.Row.ProviderJobId);
                        Fail([item], alone);
                    }
            }
        }
    }

    /// <summary>Looks the tokens up, saves the rows of live jobs in one transaction and answers the callers; the exception when that failed.</summary>
    async Task<Exception?> TrySaveAsync(IReadOnlyList<Pending> batch, CancellationToken ct)
    {
        var answers = new List<(Pending Item, CallbackStore Answer)>(batch.Count);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            var hashes = batch.Select(b => CallbackTokens.Hash(b.Token)).ToList();
            var distinct = hashes.Distinct().ToArray();
            var jobs = await db.ProviderJobs.AsNoTracking()
                .Where(j => j.Provider == ProviderName.Precept && distinct.Contains(j.CallbackTokenHash!))
                .Select(j => new { j.Id, j.CallbackTokenHash, j.State })
                .ToDictionaryAsync(j => j.CallbackTokenHash!, ct);
            var rows = new List<ProviderCallbackRecord>();
            foreach (var (item, hash) in batch.Zip(hashes))
            {
                CallbackStore answer;
                if (!jobs.TryGetValue(hash, out var job) || !CallbackTokens.Matches(item.Token, job.CallbackTokenHash!))
                    answer = new CallbackStore(CallbackStoreOutcome.UnknownToken, null);
                // A finished job's token is spent: whoever holds it can no longer add rows to the ledger with it.
                else if (job.State is ProviderJobState.Completed or ProviderJobState.Refused)
                    answer = new CallbackStore(CallbackStoreOutcome.JobFinished, job.Id);
                else
                {
                    item.Row.ProviderJobId = job.Id;
                    rows.Add(item.Row);
                    answer = new CallbackStore(CallbackStoreOutcome.Stored, job.Id);
                }
                answers.Add((item, answer));
            }
            if (rows.Count > 0)
            {
                // In bulk: nothing reads a stored callback's id back, and a job's callbacks are tens of kilobytes each.
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                await BulkInsert.InsertAsync(db, rows, ct);
                await transaction.CommitAsync(ct);
            }
        }
        catch (Exception ex)
        {
            return ex;
        }
        foreach (var (item, answer) in answers)
            item.Stored.TrySetResult(answer);
        if (answers.Any(a => a.Answer.Outcome == CallbackStoreOutcome.Stored && !a.Item.Row.IsMalformed))
            signal.Pulse();
        return null;
    }

    static void Fail(IEnumerable<Pending> batch, Exception ex)
    {
        foreach (var item in batch)
            item.Stored.TrySetException(ex);
    }
}
