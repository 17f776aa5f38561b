using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Outbox;

public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>Rows published per round; they are published concurrently, each confirmed by the broker.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;

    /// <summary>How often to look for rows when nothing has signalled (other instances, rows left by a crash).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Publishes outbox rows and marks them sent once the broker has confirmed them. A crash between
/// the confirm and the mark re-publishes the row: subscribers recognise it by its MessageId/EventId.
/// </summary>
public sealed class OutboxDispatcher(
    IServiceScopeFactory scopes,
    IBus bus,
    OutboxSignal signal,
    TimeProvider time,
    IOptions<OutboxOptions> options,
    RelayMetrics metrics,
    ILogger<OutboxDispatcher> logger) : DrainingBackgroundService
{
    protected override async Task RunAsync(CancellationToken stopping, CancellationToken working)
    {
        while (!stopping.IsCancellationRequested)
        {
            var published = 0;
            try
            {
                // On a shutdown the rows already read are still published and marked; no new round starts.
                published = await PublishBatchAsync(working);
            }
            catch (Exception ex) when (!working.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Outbox round failed; retrying after the poll interval");
            }
            if (published < options.Value.BatchSize)
                await signal.WaitAsync(options.Value.PollInterval, time, stopping);
        }
    }

    internal async Task<int> PublishBatchAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        // Several instances: each publishes the rows it claimed, so a row goes out once (unless this one dies mid-round).
        await using var claim = await RowClaims.BeginAsync(db, ct);
        var rows = await RowClaims.UnsentOutbox(db, options.Value.BatchSize).ToListAsync(ct);
        if (rows.Count == 0)
            return 0;

        var results = await Task.WhenAll(rows.Select(row => TryPublishAsync(row, ct)));
        var sent = rows.Where((_, i) => results[i]).Select(r => r.Id).ToList();
        if (sent.Count > 0)
        {
            var now = time.GetUtcNow();
            await db.Outbox.Where(m => sent.Contains(m.Id)).ExecuteUpdateAsync(s => s.SetProperty(m => m.SentAt, now), ct);
            logger.LogInformation("Published {Count} outbox messages", sent.Count);
        }
        if (claim is not null)
            await claim.CommitAsync(ct);
        return sent.Count;
    }

    async Task<bool> TryPublishAsync(OutboxMessage row, CancellationToken ct)
    {
        try
        {
            if (!OutboxRows.Types.TryGetValue(row.MessageType, out var type))
            {
                logger.LogError("Outbox row {OutboxId} has unknown type {MessageType}; leaving it unsent", row.Id, row.MessageType);
                return false;
            }
            var message = JsonSerializer.Deserialize(row.Body, type, RelayJson.Options)!;
            using var scope = message is EnrichmentCompleted forRequest ? logger.BeginRequestScope(forRequest.RequestId) : null;
            // In the trace the row was staged for (a completion: its request's); MassTransit's send span is its
            // child and carries the context to subscribers in the message headers.
            using var activity = RelayTracing.StartIn($"publish {row.MessageType}", row.TraceParent);
            activity?.SetTag("messaging.message.id", row.MessageId);
            await bus.Publish(message, type, context => context.MessageId = row.MessageId, ct);
            metrics.OutboxPublished(row.MessageType);
            // Debug: at hundreds a second one line per message costs the relay more than the publish does.
            if (message is EnrichmentCompleted completed)
                logger.LogDebug("Published EnrichmentCompleted {EventId} for request {RequestId} ({Outcome})",
                    completed.EventId, completed.RequestId, completed.Outcome);
            else
                logger.LogDebug("Published {MessageType} {MessageId}", row.MessageType, row.MessageId);
            return true;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Publishing outbox row {OutboxId} failed; it stays unsent", row.Id);
            return false;
        }
    }
}

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
