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
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
                db.ProviderCallbacks.AddRange(batch.Select(b => b.Row));
                await db.SaveChangesAsync(stoppingToken);
                foreach (var (_, stored) in batch)
                    stored.TrySetResult();
                if (batch.Any(b => !b.Row.IsMalformed))
                    signal.Pulse();
            }
            catch (Exception ex)
            {
                // The callers answer 500 and Precept retries; nothing was stored, so nothing is lost.
                logger.LogWarning(ex, "Storing {Count} webhook callbacks failed", batch.Count);
                foreach (var (_, stored) in batch)
                    stored.TrySetException(ex);
                if (stoppingToken.IsCancellationRequested)
                    throw;
            }
        }
    }
}
