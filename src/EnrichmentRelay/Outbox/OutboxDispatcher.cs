using System.Text.Json;
using System.Threading.Channels;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using MassTransit;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Outbox;

/// <summary>
/// Publishes outbox rows with publisher confirms. Each round leases up to <see cref="OutboxOptions.BatchSize"/> rows
/// (no lock is held while the broker is asked; no lease on SQLite, which runs one instance), publishes them
/// concurrently, and records them sent once the round's confirms are in, or within <see cref="MarkWindow"/> of a confirm
/// while a slow publish holds the round up. A copy reaches subscribers twice only when the broker took a message whose
/// row was not recorded sent: an attempt's confirm was lost (the message is sent again), or this instance died holding
/// confirmed rows (another takes them over once the lease runs out; on SQLite the relay publishes them when it starts
/// again). Both are logged with their counts. Confirmed rows the ledger could not
/// record (it was down) are held in memory and recorded before anything else is published, so a database outage
/// re-publishes nothing.
/// </summary>
public sealed class OutboxDispatcher : DrainingBackgroundService
{
    readonly IServiceScopeFactory scopes;
    readonly IBus bus;
    readonly OutboxSignal signal;
    readonly TimeProvider time;
    readonly IOptions<OutboxOptions> options;
    readonly RelayMetrics metrics;
    readonly ILogger<OutboxDispatcher> logger;
    readonly UnconfirmedAttempts attempts = new();
    readonly ConnectHandle attemptsHandle;

    /// <summary>Rows the broker confirmed that the ledger could not record as sent yet; only the dispatcher's loop touches it.</summary>
    readonly List<long> unmarked = [];

    readonly DateTimeOffset started;
    bool leftoversChecked;

    public OutboxDispatcher(IServiceScopeFactory scopes, IBus bus, OutboxSignal signal, TimeProvider time, IOptions<OutboxOptions> options,
        RelayMetrics metrics, ILogger<OutboxDispatcher> logger)
    {
        (this.scopes, this.bus, this.signal, this.time, this.options, this.metrics, this.logger) = (scopes, bus, signal, time, options, metrics, logger);
        started = time.GetUtcNow();
        attemptsHandle = bus.ConnectPublishObserver(attempts);
    }

    public override void Dispose()
    {
        attemptsHandle.Disconnect();
        base.Dispose();
    }

    /// <summary>
    /// How long a confirm waits for others to be recorded with it, when the round's publishes have not all ended: a round's
    /// confirms arrive in several bursts over a few milliseconds, and each write is a commit (on SQLite an fsync under its
    /// one write lock). Short, because a confirm not yet recorded is a copy a crash would publish again.
    /// </summary>
    internal static readonly TimeSpan MarkWindow = TimeSpan.FromMilliseconds(100);

    /// <summary>This instance's name on the rows it leases: unique per process, readable by an operator.</summary>
    public string Holder { get; } =
        $"{Environment.MachineName[..Math.Min(Environment.MachineName.Length, 64)]}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task RunAsync(CancellationToken stopping, CancellationToken working)
    {
        while (!stopping.IsCancellationRequested)
        {
            var published = 0;
            try
            {
                // On a shutdown the rows already leased are still published and marked; no new round starts.
                published = await PublishBatchAsync(working);
            }
            catch (Exception ex) when (!working.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Outbox round failed; retrying after the poll interval");
            }
            if (published >= options.Value.BatchSize)
                continue;
            try
            {
                await signal.WaitAsync(options.Value.PollInterval, time, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
        }
        await HandBackAsync(working);
    }

    /// <summary>
    /// One round: first the marks held from an outage (it throws while the ledger is still down, so nothing new is
    /// claimed), then lease, publish and mark. Returns how many messages the broker confirmed.
    /// </summary>
    internal async Task<int> PublishBatchAsync(CancellationToken ct)
    {
        await RecordHeldMarksAsync(ct);
        var o = options.Value;
        var leasedAt = time.GetUtcNow();
        var (rows, passedOver, leased) = await InLedgerAsync(db => OutboxLedger.ClaimAsync(db, Holder, leasedAt, o.Lease, o.BatchSize, ct));
        metrics.RowsClaimed("outbox", rows.Count, passedOver);
        if (rows.Count == 0)
            return 0;
        if (leased)
        {
            foreach (var previous in rows.Where(r => r.LeasedUntil is not null && r.LeasedBy != Holder).GroupBy(r => r.LeasedBy))
                logger.LogWarning("Took over {Count} outbox messages leased by {PreviousHolder}, whose lease ran out at {LeasedUntil:o}: it stopped " +
                                  "before recording them as sent, so those it had published reach subscribers twice (same MessageId)",
                    previous.Count(), previous.Key, previous.Max(r => r.LeasedUntil));
        }
        else if (!leftoversChecked)
        {
            // No leases (SQLite, one instance): what an earlier run left is known by its age, or a lease it wrote, and comes first.
            leftoversChecked = true;
            if (rows.Count(r => r.LeasedBy is not null || r.CreatedAt < started) is var left and > 0)
                logger.LogInformation("Publishing {Count} outbox messages the relay's previous run left unsent; any it had published without " +
                                      "recording them as sent (it stopped abruptly) reach subscribers twice (same MessageId)", left);
        }

        var ready = new List<PublishableRow>(rows.Count);
        foreach (var row in rows)
        {
            try
            {
                ready.Add(Read(row, o.MaxMessageBytes));
            }
            catch (Exception ex) when (ex is UnpublishableMessageException or JsonException or NotSupportedException)
            {
                var letter = await InLedgerAsync(db => OutboxLedger.DeadLetterAsync(db, row, ex, time.GetUtcNow(), ct));
                logger.LogError("Outbox message {MessageId} ({MessageType}) cannot be published; it is dead letter {DeadLetterId} now, and the rows " +
                                "behind it go on: {Reason}", row.MessageId, row.MessageType, letter.Id, letter.Reason);
            }
        }
        // No publish outlives its lease: one still unconfirmed at half of it is given up, and its row handed back.
        return await PublishAndMarkAsync(ready, leasedAt + o.Lease / 2, ct);
    }

    sealed record PublishableRow(OutboxMessage Row, object Message, Type Type);

    /// <summary>The message a row carries; throws when it can never be published as it is.</summary>
    static PublishableRow Read(OutboxMessage row, int maxBytes)
    {
        if (!OutboxRows.Types.TryGetValue(row.MessageType, out var type))
            throw new UnpublishableMessageException($"Unknown message type '{row.MessageType}': this relay publishes {string.Join(", ", OutboxRows.Types.Keys)}. " +
                                                    "Replay it once every instance runs a version that knows the type.");
        var size = System.Text.Encoding.UTF8.GetByteCount(row.Body);
        if (size > maxBytes)
            throw new UnpublishableMessageException($"The message is {size:N0} bytes, over Outbox:MaxMessageBytes ({maxBytes:N0}): the broker " +
                                                    "would refuse it. Replay it once the broker's max_message_size and that setting allow it.");
        var message = JsonSerializer.Deserialize(row.Body, type, RelayJson.Options)
                      ?? throw new UnpublishableMessageException($"The stored body is JSON null, not a {row.MessageType}.");
        return new PublishableRow(row, message, type);
    }

    /// <summary>
    /// Publishes the rows concurrently, each confirmed by the broker, and records them sent: in one write once every
    /// publish has ended, or, while a slow one holds the round up, each confirm within <see cref="MarkWindow"/>.
    /// </summary>
    async Task<int> PublishAndMarkAsync(IReadOnlyList<PublishableRow> ready, DateTimeOffset giveUpAt, CancellationToken ct)
    {
        if (ready.Count == 0)
            return 0;
        using var cutoff = new CancellationTokenSource(TimeSpan.FromTicks(Math.Max(0, (giveUpAt - time.GetUtcNow()).Ticks)), time);
        using var publishing = CancellationTokenSource.CreateLinkedTokenSource(ct, cutoff.Token);
        var confirmed = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true });
        var published = Task.WhenAll(ready.Select(async row =>
        {
            var result = await PublishAsync(row, publishing.Token, ct);
            if (result.Failure is null)
            {
                metrics.OutboxUnmarked(1);
                confirmed.Writer.TryWrite(row.Row.Id);
            }
            return result;
        }));
        var marking = MarkAsConfirmedAsync(confirmed.Reader, published, ct);
        (Exception? Failure, int FailedAttempts)[] results;
        try
        {
            results = await published;
        }
        finally
        {
            confirmed.Writer.Complete();
        }
        var (marked, held, markFailure) = await marking;

        if (held.Count > 0)
        {
            unmarked.AddRange(held);
            logger.LogWarning(markFailure, "Holding {Count} outbox messages the broker confirmed that the ledger could not record as sent; " +
                                           "they are recorded before anything else is published", held.Count);
        }
        var unconfirmed = ready.Where((_, i) => results[i].Failure is not null).Select(r => r.Row.Id).ToList();
        var failedAttempts = results.Sum(r => r.FailedAttempts);
        if (failedAttempts > 0 || unconfirmed.Count > 0)
            logger.LogWarning(results.FirstOrDefault(r => r.Failure is not null).Failure,
                "{FailedAttempts} attempts to publish outbox messages ended without the broker's confirm, so up to that many copies may reach " +
                "subscribers (same MessageId); {Unconfirmed} of {Count} messages are still unconfirmed and go back to the queue",
                failedAttempts, unconfirmed.Count, ready.Count);
        if (unconfirmed.Count > 0)
        {
            try
            {
                await InLedgerAsync(db => OutboxLedger.ReleaseAsync(db, Holder, unconfirmed, ct));
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // Still leased by this instance, which takes them again in its next round.
                logger.LogDebug(ex, "Handing back {Count} unconfirmed outbox messages failed", unconfirmed.Count);
            }
        }
        if (marked > 0)
            logger.LogInformation("Published {Count} outbox messages", marked);
        return marked + held.Count;
    }

    /// <returns>
    /// No failure once the broker has confirmed it, else why not (not sent, or sent and its confirm lost); and the attempts
    /// that ended without a confirm, including those MassTransit made again by itself.
    /// </returns>
    async Task<(Exception? Failure, int FailedAttempts)> PublishAsync(PublishableRow ready, CancellationToken publishing, CancellationToken working)
    {
        var (row, message, type) = ready;
        using var scope = message is EnrichmentCompleted forRequest ? logger.BeginRequestScope(forRequest.RequestId) : null;
        // In the trace the row was staged for (a completion: its request's); MassTransit's send span is its
        // child and carries the context to subscribers in the message headers.
        using var activity = RelayTracing.StartIn($"publish {row.MessageType}", row.TraceParent);
        activity?.SetTag("messaging.message.id", row.MessageId);
        metrics.OutboxUnconfirmed(1);
        attempts.Track(row.MessageId);
        try
        {
            await bus.Publish(message, type, context => context.MessageId = row.MessageId, publishing);
        }
        catch (Exception ex) when (!working.IsCancellationRequested)
        {
            logger.LogDebug(ex, "Publishing outbox row {OutboxId} was not confirmed", row.Id);
            return (ex, attempts.Untrack(row.MessageId));
        }
        finally
        {
            metrics.OutboxUnconfirmed(-1);
        }
        var failedAttempts = attempts.Untrack(row.MessageId);
        metrics.OutboxPublished(row.MessageType);
        // Debug: at hundreds a second one line per message costs the relay more than the publish does.
        if (message is EnrichmentCompleted completed)
            logger.LogDebug("Published EnrichmentCompleted {EventId} for request {RequestId} ({Outcome})",
                completed.EventId, completed.RequestId, completed.Outcome);
        else
            logger.LogDebug("Published {MessageType} {MessageId}", row.MessageType, row.MessageId);
        return (null, failedAttempts);
    }

    /// <summary>
    /// Records rows sent as their confirms come in, each write taking those of the whole round or of <see cref="MarkWindow"/>;
    /// once a write fails, holds the rest of the round's confirms in memory.
    /// </summary>
    async Task<(int Marked, List<long> Held, Exception? Failure)> MarkAsConfirmedAsync(ChannelReader<long> confirmed, Task published, CancellationToken ct)
    {
        var marked = 0;
        var held = new List<long>();
        Exception? failure = null;
        var batch = new List<long>();
        while (await confirmed.WaitToReadAsync(ct))
        {
            if (!published.IsCompleted)
            {
                using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
                await Task.WhenAny(published, Task.Delay(MarkWindow, time, window.Token));
                await window.CancelAsync();
            }
            while (confirmed.TryRead(out var id))
                batch.Add(id);
            if (failure is null)
            {
                try
                {
                    await InLedgerAsync(db => OutboxLedger.MarkSentAsync(db, batch, time.GetUtcNow(), ct));
                    marked += batch.Count;
                    metrics.OutboxUnmarked(-batch.Count);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    failure = ex;
                    held.AddRange(batch);
                }
            }
            else
            {
                held.AddRange(batch);
            }
            batch.Clear();
        }
        return (marked, held, failure);
    }

    /// <summary>Records the confirmed rows held from an outage; throws while the ledger is still unreachable.</summary>
    async Task RecordHeldMarksAsync(CancellationToken ct)
    {
        if (unmarked.Count == 0)
            return;
        await InLedgerAsync(db => OutboxLedger.MarkSentAsync(db, unmarked, time.GetUtcNow(), ct));
        logger.LogInformation("Recorded {Count} outbox messages as sent that the broker had confirmed while the ledger was unreachable", unmarked.Count);
        metrics.OutboxUnmarked(-unmarked.Count);
        unmarked.Clear();
    }

    /// <summary>On a stop: the held marks recorded, the leased rows not sent handed back, so nobody waits for this lease to run out.</summary>
    async Task HandBackAsync(CancellationToken working)
    {
        try
        {
            await RecordHeldMarksAsync(working);
            await InLedgerAsync(db => OutboxLedger.ReleaseAsync(db, Holder, null, working));
        }
        catch (Exception ex) when (!working.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Could not hand back this instance's outbox rows before stopping ({Count} confirmed but not recorded as sent); " +
                                  "another instance publishes them once their lease runs out", unmarked.Count);
        }
    }

    async Task<T> InLedgerAsync<T>(Func<RelayDbContext, Task<T>> action)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<RelayDbContext>());
    }
}

/// <summary>Why an outbox row can never be published as it is; the row goes to the dead letters with this as the reason.</summary>
public sealed class UnpublishableMessageException(string message) : Exception(message);

public static class OutboxExtensions
{
    public static IHostApplicationBuilder AddOutbox(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddHostedService<OutboxDispatcher>();
        return builder;
    }
}
