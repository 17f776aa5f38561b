using System.Data.Common;
using System.Text.Json;
using EnrichmentRelay.Cache;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Requests;

/// <summary>A request as the bus delivered it: the message and, when the producer set one, its message id.</summary>
/// <param name="TraceParent">The W3C context the message came with: its request's later steps join that trace.</param>
public sealed record IncomingRequest(EnrichmentRequested Request, Guid? MessageId, string? TraceParent = null);

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
    Waterfall waterfall,
    RequestCompletion completion,
    IdentityCache cache,
    Coalescing coalescing,
    TimeProvider time,
    BatchFlushSignal flushSignal,
    OutboxSignal outboxSignal,
    RelayMetrics metrics,
    ILogger<EnrichmentIntake> logger)
{
    /// <summary>Validates the request as it will be stored: its identifiers in canonical form (<see cref="LeadIdentifiers"/>).</summary>
    public Task<ValidationResult> ValidateAsync(EnrichmentRequested request, CancellationToken ct) =>
        validator.ValidateAsync(LeadIdentifiers.Canonical(request), ct);

    /// <summary>From the bus: an invalid request still gets an answer, a Rejected completion.</summary>
    public async Task<IntakeResult> ReceiveAsync(EnrichmentRequested request, Guid? messageId, CancellationToken ct, string? traceParent = null)
    {
        request = LeadIdentifiers.Canonical(request);
        using var scope = logger.BeginRequestScope(request.RequestId);
        var validation = await validator.ValidateAsync(request, ct);
        if (validation.IsValid)
            return await StoreAsync(request, traceParent, ct);

        var (answered, detail) = Rejection(request, validation);
        return await RejectAsync(answered, messageId, detail, traceParent, ct);
    }

    /// <summary>
    /// What a rejection stores and echoes: the request without the parts that broke a size limit (correlation data over
    /// its limits is not sent back, where it could be more than the broker takes), and each distinct reason once.
    /// </summary>
    static (EnrichmentRequested Answered, string Detail) Rejection(EnrichmentRequested request, ValidationResult validation)
    {
        var oversized = validation.Errors.Where(EnrichmentRequestedValidator.IsOverLimit)
            .Select(e => e.PropertyName.Split('.', '[')[0]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var answered = request with
        {
            Lead = oversized.Contains("lead") ? null : request.Lead,
            Fields = oversized.Contains("fields") ? null : request.Fields,
            Providers = oversized.Contains("providers") ? null : request.Providers,
            CorrelationData = oversized.Contains("correlationData") ? null : request.CorrelationData,
        };
        var reasons = validation.Errors.Select(e => e.ErrorMessage).Distinct().ToList();
        if (answered.CorrelationData is null && request.CorrelationData is not null)
            reasons.Add("correlationData is not echoed: it is over its limits.");
        return (answered, string.Join(" ", reasons));
    }

    /// <summary>
    /// From the bus, many at once: the same answers as <see cref="ReceiveAsync"/> one by one (the first body of a
    /// RequestId wins, within the batch and across batches; an invalid request gets a Rejected completion), stored in
    /// one transaction. If another writer stored one of the same RequestIds meanwhile, the batch falls back to one
    /// transaction per request, which recognises the repeats.
    /// </summary>
    public async Task<IReadOnlyList<IntakeResult>> ReceiveBatchAsync(IReadOnlyList<IncomingRequest> batch, CancellationToken ct)
    {
        var results = new IntakeResult[batch.Count];
        var now = time.GetUtcNow();
        // The first occurrence of each RequestId in the batch, with the body it was stored under.
        var firsts = new Dictionary<Guid, (int Index, string Json)>();
        var staged = new List<(int Index, EnrichmentRequestRecord Record, EnrichmentRequested Request, string? RejectedFor)>();
        var keyless = new List<(int Index, string Detail)>();
        for (var i = 0; i < batch.Count; i++)
        {
            var (request, messageId, traceParent) = batch[i];
            request = LeadIdentifiers.Canonical(request);
            using var scope = logger.BeginRequestScope(request.RequestId);
            // The validator's rules are all synchronous: its async path costs allocations per request for nothing.
            var validation = validator.Validate(request);
            string? detail = null;
            if (!validation.IsValid)
                (request, detail) = Rejection(request, validation);
            if (detail is not null && request.RequestId == Guid.Empty)
            {
                keyless.Add((i, detail));
                StageKeylessRejection(request, messageId, detail, now);
                results[i] = IntakeResult.Rejected;
                continue;
            }
            var provider = detail is null ? waterfall.First(request).Provider : null;
            var record = NewRecord(request, provider?.Name, provider?.Lane, traceParent);
            if (firsts.TryGetValue(request.RequestId, out var first))
            {
                ReportRepeat(request.RequestId, first.Json, record.RequestJson);
                results[i] = IntakeResult.Duplicate;
                continue;
            }
            firsts[request.RequestId] = (i, record.RequestJson);
            staged.Add((i, record, request, detail));
        }

        // Repeats of requests stored by an earlier batch (or the HTTP endpoint).
        var ids = staged.Select(s => s.Record.RequestId).ToList();
        var existing = ids.Count == 0
            ? []
            : await db.Requests.AsNoTracking().Where(r => ids.Contains(r.RequestId))
                .Select(r => new { r.RequestId, r.RequestJson }).ToDictionaryAsync(r => r.RequestId, r => r.RequestJson, ct);
        // What the identity cache knows of the new ones: one query for the whole batch.
        var cached = await cache.LookupAsync(
            staged.Where(s => s.RejectedFor is null && !existing.ContainsKey(s.Record.RequestId)).Select(s => s.Request).ToList(), now, ct);
        var accepted = 0;
        var toProviders = 0;
        var looked = new List<(EnrichmentRequestRecord Record, CachedAnswer? Answer)>();
        // The batch's new requests, inserted in bulk (BulkInsert), never tracked: everything else staged goes through SaveChanges.
        var stored = new List<EnrichmentRequestRecord>();
        var forProviders = new List<(EnrichmentRequestRecord Record, EnrichmentRequested Request)>();
        foreach (var (index, record, request, rejectedFor) in staged)
        {
            using var scope = logger.BeginRequestScope(record.RequestId);
            if (existing.TryGetValue(record.RequestId, out var storedJson))
            {
                ReportRepeat(record.RequestId, storedJson, record.RequestJson);
                results[index] = IntakeResult.Duplicate;
                continue;
            }
            if (rejectedFor is null)
            {
                accepted++;
                results[index] = IntakeResult.Accepted;
                var answer = cached.GetValueOrDefault(record.RequestId);
                looked.Add((record, answer));
                if (answer is null || !AnswerFromCache(record, request, answer))
                    forProviders.Add((record, request));
            }
            else
            {
                logger.LogWarning("Rejected request {RequestId}: {Detail}", record.RequestId, rejectedFor);
                completion.Complete(record, new CompletionResult(Outcome.Rejected, Detail: rejectedFor));
                results[index] = IntakeResult.Rejected;
            }
            stored.Add(record);
        }
        foreach (var (_, detail) in keyless)
            logger.LogWarning("Rejected request {RequestId}: {Detail}", Guid.Empty, detail);

        // Identical requests in flight (stored before, or earlier in this batch) share one call: one query for the batch.
        var keyed = forProviders.Select(f => (f.Record, Key: coalescing.KeyFor(f.Record, f.Request))).ToList();
        var leaders = await coalescing.LeadersAsync(keyed.Select(k => k.Key).OfType<string>().Distinct().ToList(), ct);
        foreach (var (record, key) in keyed)
        {
            using var scope = logger.BeginRequestScope(record.RequestId);
            if (coalescing.Coalesce(record, key, leaders, now))
            {
                logger.LogDebug("Request {RequestId} waits for identical request {LeaderRequestId} in flight", record.RequestId, record.LeaderRequestId);
                continue;
            }
            toProviders++;
            logger.LogDebug("Accepted request {RequestId} for {Provider} ({Lane})", record.RequestId, record.Provider, record.Lane);
        }

        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            await BulkInsert.InsertAsync(db, stored, ct);
            await BulkInsert.InsertAsync(db, db.TakeAdded<InFlightRecord>(), ct);
            // Everything tracked here was added, complete, and not changed since: nothing for change detection to find.
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            try
            {
                await db.SaveChangesAsync(ct);
            }
            finally
            {
                db.ChangeTracker.AutoDetectChangesEnabled = true;
            }
            await transaction.CommitAsync(ct);
        }
        catch (Exception ex) when (ex is DbUpdateException or DbException)
        {
            // Lost a race with a concurrent batch or instance holding one of these RequestIds: take them one at a time.
            db.ChangeTracker.Clear();
            completion.Abandoned();
            logger.LogInformation("A batch of {Count} requests overlapped one stored concurrently; storing them one by one", batch.Count);
            for (var i = 0; i < batch.Count; i++)
                results[i] = await ReceiveAsync(batch[i].Request, batch[i].MessageId, ct, batch[i].TraceParent);
            return results;
        }

        // Counted once stored: a batch that fell back to one by one above is counted there.
        completion.Committed();
        foreach (var (record, answer) in looked)
        {
            cache.Counted(answer);
            if (record.State == RequestState.Accepted)
                metrics.RequestAccepted(record.Provider!.Value);
        }
        foreach (var _ in keyless)
            metrics.RequestCompleted(null, Outcome.Rejected, null);
        if (toProviders > 0)
            flushSignal.Pulse();
        if (toProviders < results.Length)
            outboxSignal.Pulse();
        logger.LogInformation("Received {Count} requests: {Accepted} accepted, {Rejected} rejected, {Duplicates} repeats ignored",
            batch.Count, accepted, results.Count(r => r == IntakeResult.Rejected), results.Count(r => r == IntakeResult.Duplicate));
        return results;
    }

    void ReportRepeat(Guid requestId, string firstJson, string json)
    {
        // The first body wins; a different one under the same key is reported, never merged.
        if (firstJson != json)
            logger.LogWarning("Request {RequestId} arrived again with a different body; the first one is kept and this one ignored", requestId);
        else
            logger.LogDebug("Request {RequestId} was already received; ignoring the repeat", requestId);
    }

    /// <summary>Stores a valid request (identifiers in canonical form) for its provider's next batch. Call only after validation.</summary>
    public async Task<IntakeResult> AcceptAsync(EnrichmentRequested request, CancellationToken ct)
    {
        using var scope = logger.BeginRequestScope(request.RequestId);
        return await StoreAsync(LeadIdentifiers.Canonical(request), null, ct);
    }

    async Task<IntakeResult> StoreAsync(EnrichmentRequested request, string? traceParent, CancellationToken ct)
    {
        var (provider, whyNot, _) = waterfall.First(request);
        if (provider is null)
            throw new InvalidOperationException($"Request {request.RequestId} was not validated: {whyNot}");

        EnrichmentRequestRecord record;
        CachedAnswer? answer;
        bool answered;
        for (var round = 1; ; round++)
        {
            record = NewRecord(request, provider.Name, provider.Lane, traceParent);
            answer = (await cache.LookupAsync([request], time.GetUtcNow(), ct)).GetValueOrDefault(request.RequestId);
            answered = answer is not null && AnswerFromCache(record, request, answer);
            if (!answered && coalescing.KeyFor(record, request) is { } key)
                coalescing.Coalesce(record, key, await coalescing.LeadersAsync([key], ct), record.AcceptedAt);
            try
            {
                if (!await TryInsertAsync(record, ct))
                    return IntakeResult.Duplicate; // reported by TryInsertAsync
                break;
            }
            catch (DbUpdateException) when (round < 3)
            {
                // An identical request became the leader on another instance meanwhile: this one follows it.
                logger.LogDebug("Request {RequestId}: an identical request was stored concurrently; storing it again", request.RequestId);
            }
        }
        cache.Counted(answer);
        if (answered)
        {
            completion.Committed();
            outboxSignal.Pulse();
            logger.LogInformation("Request {RequestId} answered from the identity cache: {Outcome}, no call", request.RequestId, record.Outcome);
            return IntakeResult.Accepted;
        }
        if (record.State == RequestState.Following)
        {
            logger.LogInformation("Request {RequestId} waits for identical request {LeaderRequestId} in flight", request.RequestId, record.LeaderRequestId);
            return IntakeResult.Accepted;
        }
        metrics.RequestAccepted(record.Provider!.Value);
        flushSignal.Pulse();
        logger.LogInformation("Accepted request {RequestId} for {Provider} ({Lane})", request.RequestId, record.Provider, record.Lane);
        return IntakeResult.Accepted;
    }

    /// <summary>
    /// Applies what the identity cache knows to a new request, staged with it: its answer becomes the request's first
    /// attempts (marked as from the cache, no credits). A whole answer completes the request now (true); a partial one
    /// leaves it waiting for the first provider that can find the fields still missing, asking only for those.
    /// </summary>
    bool AnswerFromCache(EnrichmentRequestRecord record, EnrichmentRequested request, CachedAnswer answer)
    {
        var attempts = IdentityCache.Attempts(record.RequestId, answer, record.AcceptedAt);
        db.Attempts.AddRange(attempts);
        if (answer.Whole)
        {
            record.Provider = attempts[^1].Provider;
            completion.FinishWithoutCall(record, IdentityCache.Result(answer), attempts);
            return true;
        }
        var (provider, whyNot, _) = waterfall.First(request with { Fields = answer.Missing });
        if (provider is null)
        {
            // No provider can look for what is missing: what the cache knows is the whole answer there is.
            var result = IdentityCache.Result(answer);
            completion.FinishWithoutCall(record, result with { Detail = result.Outcome == Outcome.Found ? null : $"{result.Detail} {whyNot}" }, attempts);
            return true;
        }
        record.Provider = provider.Name;
        record.Lane = provider.Lane;
        record.FieldsJson = LedgerViews.WriteFields(answer.Missing);
        return false;
    }

    async Task<IntakeResult> RejectAsync(EnrichmentRequested request, Guid? messageId, string detail, string? traceParent, CancellationToken ct)
    {
        logger.LogWarning("Rejected request {RequestId}: {Detail}", request.RequestId, detail);
        if (request.RequestId == Guid.Empty)
        {
            StageKeylessRejection(request, messageId, detail, time.GetUtcNow());
            await db.SaveChangesAsync(ct);
            metrics.RequestCompleted(null, Outcome.Rejected, null);
            outboxSignal.Pulse();
            return IntakeResult.Rejected;
        }

        var record = NewRecord(request, provider: null, lane: null, traceParent);
        completion.Complete(record, new CompletionResult(Outcome.Rejected, Detail: detail));
        if (!await TryInsertAsync(record, ct))
            return IntakeResult.Duplicate;
        completion.Committed();
        outboxSignal.Pulse();
        return IntakeResult.Rejected;
    }

    /// <summary>No key to store it under: answer once per delivery, identified by the message id when there is one.</summary>
    void StageKeylessRejection(EnrichmentRequested request, Guid? messageId, string detail, DateTimeOffset now)
    {
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
    }

    EnrichmentRequestRecord NewRecord(EnrichmentRequested request, ProviderName? provider, string? lane, string? traceParent = null) => new()
    {
        RequestId = request.RequestId,
        State = RequestState.Accepted,
        Provider = provider,
        Lane = lane,
        RequestJson = JsonSerializer.Serialize(request, RelayJson.Options),
        AcceptedAt = time.GetUtcNow(),
        // The message's own context, else the consumer's (or HTTP request's) span: the trace the request's later steps join.
        TraceParent = traceParent ?? RelayTracing.CurrentTraceParent(),
    };

    /// <summary>Inserts the row (and anything staged with it); false when the RequestId already exists.</summary>
    async Task<bool> TryInsertAsync(EnrichmentRequestRecord record, CancellationToken ct)
    {
        var first = await db.Requests.AsNoTracking().Where(r => r.RequestId == record.RequestId).Select(r => r.RequestJson).FirstOrDefaultAsync(ct);
        if (first is not null)
        {
            ReportRepeat(record.RequestId, first, record.RequestJson);
            db.ChangeTracker.Clear();
            completion.Abandoned(); // a rejection staged for it is not one
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
            completion.Abandoned();
            if (await db.Requests.AnyAsync(r => r.RequestId == record.RequestId, ct))
                return false;
            throw;
        }
    }
}
