using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Operations;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Requests;

public enum IntakeResult
{
    Accepted,
    /// <summary>The RequestId was seen before: nothing new is submitted or published.</summary>
    Duplicate,
    Rejected,
}

/// <summary>
/// The one way in, shared by the bus consumer and the HTTP endpoint, so both give the same
/// idempotency: the request row keyed by RequestId is the inbox.
/// </summary>
public sealed class EnrichmentIntake(
    RelayDbContext db,
    IValidator<EnrichmentRequested> validator,
    RequestRouting routing,
    RequestCompletion completion,
    TimeProvider time,
    BatchFlushSignal flushSignal,
    OutboxSignal outboxSignal,
    RelayMetrics metrics,
    ILogger<EnrichmentIntake> logger)
{
    public Task<ValidationResult> ValidateAsync(EnrichmentRequested request, CancellationToken ct) =>
        validator.ValidateAsync(request, ct);

    /// <summary>From the bus: an invalid request still gets an answer, a Rejected completion.</summary>
    public async Task<IntakeResult> ReceiveAsync(EnrichmentRequested request, Guid? messageId, CancellationToken ct)
    {
        using var scope = logger.BeginRequestScope(request.RequestId);
        var validation = await validator.ValidateAsync(request, ct);
        if (validation.IsValid)
            return await StoreAsync(request, ct);

        var detail = string.Join(" ", validation.Errors.Select(e => e.ErrorMessage));
        return await RejectAsync(request, messageId, detail, ct);
    }

    /// <summary>Stores a valid request for its provider's next batch. Call only after validation.</summary>
    public async Task<IntakeResult> AcceptAsync(EnrichmentRequested request, CancellationToken ct)
    {
        using var scope = logger.BeginRequestScope(request.RequestId);
        return await StoreAsync(request, ct);
    }

    async Task<IntakeResult> StoreAsync(EnrichmentRequested request, CancellationToken ct)
    {
        var (provider, whyNot) = routing.Route(request);
        if (provider is null)
            throw new InvalidOperationException($"Request {request.RequestId} was not validated: {whyNot}");

        var stored = await TryInsertAsync(NewRecord(request, provider.Name, provider.Lane), ct);
        if (stored)
        {
            metrics.RequestAccepted(provider.Name);
            flushSignal.Pulse();
            logger.LogInformation("Accepted request {RequestId} for {Provider} ({Lane})", request.RequestId, provider.Name, provider.Lane);
            return IntakeResult.Accepted;
        }
        logger.LogInformation("Request {RequestId} was already received; ignoring the repeat", request.RequestId);
        return IntakeResult.Duplicate;
    }

    async Task<IntakeResult> RejectAsync(EnrichmentRequested request, Guid? messageId, string detail, CancellationToken ct)
    {
        logger.LogWarning("Rejected request {RequestId}: {Detail}", request.RequestId, detail);
        if (request.RequestId == Guid.Empty)
        {
            // No key to store it under: answer once per delivery, identified by the message id when there is one.
            var now = time.GetUtcNow();
            var rejected = new EnrichmentCompleted
            {
                EventId = messageId is { } id ? EnrichmentCompleted.EventIdFor(id) : Guid.NewGuid(),
                RequestId = Guid.Empty,
                Outcome = Outcome.Rejected,
                Detail = detail,
                CorrelationData = request.CorrelationData ?? new Dictionary<string, string>(),
                RequestedAt = now,
                CompletedAt = now,
            };
            db.Outbox.Add(OutboxRows.For(rejected, rejected.EventId, now));
            await db.SaveChangesAsync(ct);
            metrics.RequestCompleted(null, Outcome.Rejected, null);
            outboxSignal.Pulse();
            return IntakeResult.Rejected;
        }

        var record = NewRecord(request, provider: null, lane: null);
        completion.Complete(record, new CompletionResult(Outcome.Rejected, Detail: detail));
        if (!await TryInsertAsync(record, ct))
            return IntakeResult.Duplicate;
        completion.Committed();
        outboxSignal.Pulse();
        return IntakeResult.Rejected;
    }

    EnrichmentRequestRecord NewRecord(EnrichmentRequested request, ProviderName? provider, string? lane) => new()
    {
        RequestId = request.RequestId,
        State = RequestState.Accepted,
        Provider = provider,
        Lane = lane,
        RequestJson = JsonSerializer.Serialize(request, RelayJson.Options),
        AcceptedAt = time.GetUtcNow(),
        // The consumer's (or HTTP request's) span: the trace the request's later steps join.
        TraceParent = RelayTracing.CurrentTraceParent(),
    };

    /// <summary>Inserts the row (and anything staged with it); false when the RequestId already exists.</summary>
    async Task<bool> TryInsertAsync(EnrichmentRequestRecord record, CancellationToken ct)
    {
        var first = await db.Requests.AsNoTracking().Where(r => r.RequestId == record.RequestId).Select(r => r.RequestJson).FirstOrDefaultAsync(ct);
        if (first is not null)
        {
            // The first body wins; a different one under the same key is reported, never merged.
            if (first != record.RequestJson)
                logger.LogWarning("Request {RequestId} arrived again with a different body; the first one is kept and this one ignored",
                    record.RequestId);
            db.ChangeTracker.Clear();
            return false;
        }
        db.Requests.Add(record);
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException)
        {
            // Lost a race with a redelivery of the same RequestId: if the row is there now, it is a duplicate.
            db.ChangeTracker.Clear();
            if (await db.Requests.AnyAsync(r => r.RequestId == record.RequestId, ct))
                return false;
            throw;
        }
    }
}
