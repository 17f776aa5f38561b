using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Telemetry;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Requests.Selections;

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
            .Must(d => d is null || d.Count < EnrichmentRequestedValidator.MaxCorrelationKeys)
            .WithMessage($"'correlationData' may hold fewer than {EnrichmentRequestedValidator.MaxCorrelationKeys} keys (one is the relay's selectionId).")
            .OverridePropertyName("correlationData");
    }
}

/// <summary>
/// The second way in: a Lance bulk-mode selection. One call, in which Lance picks the persons; then one job holding one
/// request per selected person (read by the job engine like any other Lance job), and a summary once all of them
/// have completed (<see cref="SelectionSummaries"/>).
/// </summary>
public sealed class SelectionIntake(
    RelayDbContext db,
    RequestCompletion completion,
    JobResults jobs,
    LanceTasks lance,
    IOptions<LanceOptions> lanceOptions,
    SelectionSummaries summaries,
    IValidator<SelectionEnrichmentRequested> validator,
    TimeProvider time,
    OutboxSignal outboxSignal,
    RelayMetrics metrics,
    ILogger<SelectionIntake> logger)
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
                db.Outbox.Add(OutboxRows.For(SelectionSummaries.Summary(message, null, [], Outcome.Rejected, detail, now, now), Guid.NewGuid(), now));
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
            // The row is the intent, stored before the paid call; the delivery whose insert wins makes the call (a
            // concurrent one fails on the key and is retried, by when the row tells it what to do).
            row = db.Selections.Add(NewRow(message, now)).Entity;
            row.ClaimedAt = now;
            await db.SaveChangesAsync(ct);
        }
        else if (row.ClaimedAt is { } claimed && now - claimed < SubmitCalls.OrphanWindow(lanceOptions.Value.RequestTimeout))
        {
            // Another delivery is making the paid call right now: calling too would get Lance's records again, free, and
            // the answer that records them could be the one without the charge. Retried later, it finds them recorded.
            throw new SelectionInProgressException(message.SelectionId, claimed);
        }
        else
        {
            // Cut off before its answer was recorded: taken over (the version check lets one taker through). Sending
            // it again is safe, since Lance returns the existing pending or finished record for each person, free.
            row.ClaimedAt = now;
            row.Version++;
            await db.SaveChangesAsync(ct);
        }

        LanceSelection answer;
        IReadOnlyList<CapturedAnswer> answers;
        try
        {
            using (ProviderAnswers.Capture(out answers))
                answer = await lance.SelectAsync(message, sentAt: now, ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // The call failed (Lance down, busy, or its answer lost): the next delivery may call at once, since Lance
            // returns the records it made, if any, free. Released before the exception retries this delivery.
            row.ClaimedAt = null;
            row.Version++;
            await db.SaveChangesAsync(CancellationToken.None);
            throw;
        }
        if (answer.Refused is { } refused)
        {
            Refuse(row, message, refused, answer.Detail!, now);
            await completion.SaveAsync(ct);
            return;
        }

        var job = new ProviderJobRecord
        {
            Id = Guid.NewGuid(), Provider = ProviderName.Lance, Lane = LanceTasks.Lane, State = ProviderJobState.Submitted,
            RequestCount = answer.Records, CreatedAt = now, SubmittedAt = now, SubmitAnswer = "selection",
        };
        db.ProviderJobs.Add(job);
        AnswerLog.Add(db, ProviderAnswers.Snapshot(answers), [job.Id]);
        var persons = new Dictionary<Guid, EnrichmentRequestRecord>();
        var attempts = new List<RequestAttemptRecord>();
        var results = new Dictionary<Guid, LeadResult>();
        foreach (var selected in answer.Persons)
        {
            var request = PersonRequest(message, selected.PersonId);
            if (await db.Requests.AnyAsync(r => r.RequestId == request.RequestId, ct))
                continue;
            var person = new EnrichmentRequestRecord
            {
                RequestId = request.RequestId, State = RequestState.Submitted, Provider = ProviderName.Lance, Lane = LanceTasks.Lane,
                RequestJson = JsonSerializer.Serialize(request, RelayJson.Options), AcceptedAt = now, SubmittedAt = now,
                ProviderJobId = job.Id, ProviderJob = job, ProviderState = selected.ProviderState,
                // Each person's request joins the selection's trace.
                TraceParent = RelayTracing.CurrentTraceParent(),
            };
            db.Requests.Add(person);
            persons[person.RequestId] = person;
            var attempt = new RequestAttemptRecord
            {
                RequestId = person.RequestId, Number = 1, Provider = ProviderName.Lance, Lane = LanceTasks.Lane, JobId = job.Id, StartedAt = now,
            };
            db.Attempts.Add(attempt);
            attempts.Add(attempt);
            if (selected.Result is { } result)
                results[person.RequestId] = result;
        }
        // Persons whose records Lance had finished already complete now; a job with nobody left open ends here.
        await jobs.ApplyAsync(new JobResults.JobWork(job, persons, attempts.ToLookup(a => a.RequestId)),
            new JobReading(job.Id) { Completed = results }, ct);
        row.State = SelectionState.Submitted;
        row.ProviderJobId = job.Id;
        row.Selected = answer.Records;
        row.Version++;
        await completion.SaveAsync(ct);
        metrics.RequestAccepted(ProviderName.Lance, persons.Count);
        logger.LogInformation("Selection {SelectionId}: Lance selected {Count} persons", message.SelectionId, answer.Records);
        if (job.State == ProviderJobState.Completed)
            await summaries.JobEndedAsync(job.Id, ct);
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
        var summary = SelectionSummaries.Summary(message, null, [], outcome, detail, row.AcceptedAt, now);
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
}

/// <summary>Another delivery of the same selection holds it while it calls Lance: this one is retried later.</summary>
public sealed class SelectionInProgressException(Guid selectionId, DateTimeOffset claimedAt)
    : Exception($"Selection {selectionId} is being submitted by another delivery since {claimedAt:O}; tried again later.");
