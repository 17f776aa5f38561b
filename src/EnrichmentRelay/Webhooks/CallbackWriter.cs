using System.Threading.Channels;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;

namespace EnrichmentRelay.Webhooks;

/// <summary>
/// Stores webhook bodies for the endpoint with a group commit: the rows of every callback waiting at that moment go
/// in one transaction, and each caller is answered only once its row is committed. The promise "stored before the
/// 202" holds; what is saved is a transaction (and, on SQLite, a sync to disk) per callback, which under load made
/// callers queue behind each other and behind the callback processor for the database's one writer.
/// </summary>
public sealed class CallbackWriter(IServiceScopeFactory scopes, CallbackSignal signal, ILogger<CallbackWriter> logger) : BackgroundService
{
    const int MaxRowsPerCommit = 500;

    readonly Channel<(ProviderCallbackRecord Row, TaskCompletionSource Stored)> queue =
        Channel.CreateBounded<(ProviderCallbackRecord, TaskCompletionSource)>(new BoundedChannelOptions(10_000) { SingleReader = true });

    /// <summary>Completes once <paramref name="row"/> is committed; throws if the commit failed.</summary>
    public async Task StoreAsync(ProviderCallbackRecord row, CancellationToken ct)
    {
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.Writer.WriteAsync((row, stored), ct);
        await stored.Task.WaitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<(ProviderCallbackRecord Row, TaskCompletionSource Stored)>();
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

    /// <summary>Saves the rows in one transaction and answers their callers; the exception when the save failed.</summary>
    async Task<Exception?> TrySaveAsync(IReadOnlyList<(ProviderCallbackRecord Row, TaskCompletionSource Stored)> rows, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            // In bulk: nothing reads a stored callback's id back, and a job's callbacks are tens of kilobytes each.
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            await BulkInsert.InsertAsync(db, rows.Select(b => b.Row).ToList(), ct);
            await transaction.CommitAsync(ct);
        }
        catch (Exception ex)
        {
            return ex;
        }
        foreach (var (_, stored) in rows)
            stored.TrySetResult();
        if (rows.Any(b => !b.Row.IsMalformed))
            signal.Pulse();
        return null;
    }

    static void Fail(IEnumerable<(ProviderCallbackRecord Row, TaskCompletionSource Stored)> rows, Exception ex)
    {
        foreach (var (_, stored) in rows)
            stored.TrySetException(ex);
    }
}
