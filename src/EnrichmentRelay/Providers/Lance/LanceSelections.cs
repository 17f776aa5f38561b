using EnrichmentRelay.Jobs;
using System.Net;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Providers.Lance;

public sealed class SelectionEnrichmentRequestedValidator : AbstractValidator<SelectionEnrichmentRequested>
{
    public SelectionEnrichmentRequestedValidator()
    {
        RuleFor(s => s.SelectionId).NotEmpty().WithMessage("'selectionId' must be a non-empty GUID.").OverridePropertyName("selectionId");
        RuleFor(s => s.TargetCount).InclusiveBetween(1, LanceOptions.MaxIdsPerCall)
            .WithMessage($"'targetCount' must be between 1 and {LanceOptions.MaxIdsPerCall}.").OverridePropertyName("targetCount");
        RuleFor(s => s.StartIndex).GreaterThanOrEqualTo(0).WithMessage("'startIndex' must not be negative.").OverridePropertyName("startIndex");
        RuleFor(s => s.Field).IsInEnum().WithMessage("'field' must be email or phone.").OverridePropertyName("field");
        RuleFor(s => s.ExcludedIds).Must(ids => ids is null || ids.Count <= 10_000)
            .WithMessage("'excludedIds' may hold at most 10,000 ids.").OverridePropertyName("excludedIds");
        RuleFor(s => s.CorrelationData)
            .Must(d => d is null || d.Count < Requests.EnrichmentRequestedValidator.MaxCorrelationKeys)
            .WithMessage($"'correlationData' may hold fewer than {Requests.EnrichmentRequestedValidator.MaxCorrelationKeys} keys (one is the relay's selectionId).")
            .OverridePropertyName("correlationData");
    }
}

/// <summary>
/// Lance bulk-mode selections: one bulk call, then one request per selected person (polled by
/// <see cref="LancePoller"/> like any other Lance request), and a summary when all have completed.
/// </summary>
public sealed class LanceSelections(
    RelayDbContext db,
    RequestCompletion completion,
    LanceClient client,
    LanceTasks lance,
    IValidator<SelectionEnrichmentRequested> validator,
    TimeProvider time,
    OutboxSignal outboxSignal,
    RelayMetrics metrics,
    ILogger<LanceSelections> logger)
{
    public const string SelectionIdKey = "selectionId";

    public Task<FluentValidation.Results.ValidationResult> ValidateAsync(SelectionEnrichmentRequested selection, CancellationToken ct) =>
        validator.ValidateAsync(selection, ct);

    public async Task ReceiveAsync(SelectionEnrichmentRequested message, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var validation = await validator.ValidateAsync(message, ct);
        var row = await db.Selections.SingleOrDefaultAsync(s => s.SelectionId == message.SelectionId, ct);
        if (row is { State: not SelectionState.Accepted })
            return; // a repeat of a selection already submitted

        if (!validation.IsValid)
        {
            var detail = string.Join(" ", validation.Errors.Select(e => e.ErrorMessage));
            if (message.SelectionId == Guid.Empty)
            {
                db.Outbox.Add(OutboxRows.For(Summary(message, null, [], Outcome.Rejected, detail, now, now), Guid.NewGuid(), now));
                await db.SaveChangesAsync(ct);
                outboxSignal.Pulse();
                return;
            }
            row ??= db.Selections.Add(NewRow(message, now)).Entity;
            Refuse(row, message, Outcome.Rejected, detail, now);
            await completion.SaveAsync(ct);
            return;
        }

        if (row is null)
        {
            // The row is the intent: stored before the paid call. Sending the same selection again after a crash
            // is safe, since Lance returns the existing pending or finished record for each person, free.
            row = db.Selections.Add(NewRow(message, now)).Entity;
            await db.SaveChangesAsync(ct);
        }

        var field = LanceTasks.FieldOf(message.Field);
        using var response = await client.SelectAsync(field, message.Filters, message.StartIndex, message.TargetCount, message.ExcludedIds ?? [], ct);
        if (!response.IsSuccessStatusCode)
        {
            var error = await LanceClient.ReadErrorAsync(response, ct);
            Outcome? refused = response.StatusCode switch
            {
                HttpStatusCode.PaymentRequired => Outcome.InsufficientCredits,
                HttpStatusCode.BadRequest => Outcome.Rejected,
                // 401/403/404 refuse the relay's key or address, not the selection: it is retried, redelivered later
                // and, if Lance still refuses, kept as a dead letter to replay once the key works.
                _ => null,
            };
            if (refused is null)
                throw new HttpRequestException($"Lance answered {(int)response.StatusCode} to selection {message.SelectionId}: {error}");
            Refuse(row, message, refused.Value, $"Lance: {error}", now);
            await completion.SaveAsync(ct);
            return;
        }

        var records = LanceClient.ReadEnrichments(await response.Content.ReadAsStringAsync(ct)).Where(r => r.Field == field).ToList();
        var job = new ProviderJobRecord
        {
            Id = Guid.NewGuid(), Provider = ProviderName.Lance, Lane = LanceTasks.Lane, State = ProviderJobState.Submitted,
            RequestCount = records.Count, CreatedAt = now, SubmittedAt = now, SubmitAnswer = "selection",
        };
        db.ProviderJobs.Add(job);
        var persons = new List<(EnrichmentRequestRecord Record, LanceTaskSet Set)>();
        foreach (var record in records.DistinctBy(r => r.EntityId.ToLowerInvariant()))
        {
            var request = PersonRequest(message, record.EntityId);
            if (await db.Requests.AnyAsync(r => r.RequestId == request.RequestId, ct))
                continue;
            var tasks = new Dictionary<string, LanceTask> { [field] = LanceTask.Selected(record, sentAt: now) };
            var person = new EnrichmentRequestRecord
            {
                RequestId = request.RequestId, State = RequestState.Submitted, Provider = ProviderName.Lance, Lane = LanceTasks.Lane,
                RequestJson = JsonSerializer.Serialize(request, RelayJson.Options), AcceptedAt = now, SubmittedAt = now,
                ProviderJobId = job.Id, ProviderJob = job, ProviderState = LanceTasks.Write(tasks),
                // Each person's request joins the selection's trace.
                TraceParent = RelayTracing.CurrentTraceParent(),
            };
            db.Requests.Add(person);
            persons.Add((person, new LanceTaskSet(record.EntityId, tasks)));
        }
        // Reused records may already be finished: those persons complete now.
        var results = await lance.CompleteAsync(persons.Select(p => p.Set).ToList(), ct);
        foreach (var (person, set) in persons)
            if (results.TryGetValue(set, out var result))
                completion.Complete(person, result.ToCompletion());
        row.State = SelectionState.Submitted;
        row.ProviderJobId = job.Id;
        row.Selected = records.Count;
        row.Version++;
        await completion.SaveAsync(ct);
        metrics.RequestAccepted(ProviderName.Lance, persons.Count);
        logger.LogInformation("Selection {SelectionId}: Lance selected {Count} persons", message.SelectionId, records.Count);
        await FinishCompletedAsync(db, time, ct);
    }

    /// <summary>
    /// Stages the summary of every submitted selection whose persons have all completed, each saved on its own:
    /// several writers (the poll, the consumers of other selections) may finish the same selection at once, and
    /// the one that loses the race on a selection leaves it to the winner without losing its other ones.
    /// </summary>
    public static async Task FinishCompletedAsync(RelayDbContext db, TimeProvider time, CancellationToken ct)
    {
        var submitted = await db.Selections.Where(s => s.State == SelectionState.Submitted).ToListAsync(ct);
        foreach (var selection in submitted)
        {
            var requests = await db.Requests.AsNoTracking().Where(r => r.ProviderJobId == selection.ProviderJobId)
                .Select(r => new { r.RequestId, r.State, r.Outcome }).ToListAsync(ct);
            if (requests.Any(r => r.State != RequestState.Completed))
                continue;
            var now = time.GetUtcNow();
            var message = JsonSerializer.Deserialize<SelectionEnrichmentRequested>(selection.RequestJson, RelayJson.Options)!;
            var outcomes = requests.GroupBy(r => r.Outcome!.Value)
                .ToDictionary(g => JsonNamingPolicy.CamelCase.ConvertName(g.Key.ToString()), g => g.Count());
            var summary = Summary(message, outcomes, requests.Select(r => r.RequestId).ToList(), null, null, selection.AcceptedAt, now)
                with { Selected = selection.Selected };
            selection.State = SelectionState.Completed;
            selection.CompletedAt = now;
            selection.Version++;
            var staged = db.Outbox.Add(OutboxRows.For(summary, summary.EventId, now));
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Another writer finished this selection first, with its summary.
                staged.State = EntityState.Detached;
                await db.Entry(selection).ReloadAsync(ct);
            }
        }
    }

    /// <summary>One selected person's request: derived id, the person, the field, and the selection in its correlation data.</summary>
    static EnrichmentRequested PersonRequest(SelectionEnrichmentRequested selection, string personId)
    {
        var correlation = new Dictionary<string, string>(selection.CorrelationData ?? new Dictionary<string, string>())
        {
            [SelectionIdKey] = selection.SelectionId.ToString(),
        };
        return new EnrichmentRequested
        {
            RequestId = SelectionEnrichmentRequested.RequestIdFor(selection.SelectionId, personId),
            Lead = new Lead { LancePersonId = personId },
            Fields = [selection.Field],
            Providers = [ProviderName.Lance],
            CorrelationData = correlation,
        };
    }

    void Refuse(SelectionRecord row, SelectionEnrichmentRequested message, Outcome outcome, string detail, DateTimeOffset now)
    {
        row.State = SelectionState.Completed;
        row.Refused = outcome;
        row.Detail = detail;
        row.CompletedAt = now;
        row.Version++;
        var summary = Summary(message, null, [], outcome, detail, row.AcceptedAt, now);
        db.Outbox.Add(OutboxRows.For(summary, summary.EventId, now));
        logger.LogWarning("Selection {SelectionId} refused ({Outcome}): {Detail}", message.SelectionId, outcome, detail);
    }

    static SelectionRecord NewRow(SelectionEnrichmentRequested message, DateTimeOffset now) => new()
    {
        SelectionId = message.SelectionId,
        State = SelectionState.Accepted,
        RequestJson = JsonSerializer.Serialize(message, RelayJson.Options),
        AcceptedAt = now,
    };

    static SelectionEnrichmentCompleted Summary(SelectionEnrichmentRequested message, Dictionary<string, int>? outcomes,
        IReadOnlyList<Guid> requestIds, Outcome? refused, string? detail, DateTimeOffset requestedAt, DateTimeOffset now) => new()
    {
        EventId = SelectionEnrichmentCompleted.EventIdFor(message.SelectionId),
        SelectionId = message.SelectionId,
        Field = message.Field,
        Refused = refused,
        Detail = detail,
        Selected = requestIds.Count,
        Outcomes = outcomes ?? [],
        RequestIds = requestIds,
        CorrelationData = message.CorrelationData ?? new Dictionary<string, string>(),
        RequestedAt = requestedAt,
        CompletedAt = now,
    };
}
