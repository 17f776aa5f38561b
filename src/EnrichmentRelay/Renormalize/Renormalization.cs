using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Renormalize;

/// <summary>Which completed requests a run examines: completed in [<see cref="From"/>, <see cref="To"/>), after <see cref="After"/>.</summary>
/// <param name="After">A continuation: only requests completed strictly after this instant (a previous answer's <c>continueAfter</c>).</param>
/// <param name="Limit">Requests examined at most (a batch runs over it only by requests completed at the same instant as its last).</param>
public sealed record RenormalizeRange(DateTimeOffset From, DateTimeOffset To, DateTimeOffset? After, int Limit);

/// <summary>A correction published: the request's new revision, its event id, and the event it replaces.</summary>
public sealed record RenormalizeCorrection(Guid RequestId, int Revision, Guid EventId, Guid Supersedes);

/// <summary>A request whose stored answers could not be translated again (it keeps its result), and why.</summary>
public sealed record RenormalizeFailure(Guid RequestId, string Reason);

/// <summary>What a run did.</summary>
/// <param name="Examined">Completed requests of the range looked at.</param>
/// <param name="Changed">Requests whose result changed: each got one correction.</param>
/// <param name="Unchanged">Requests whose result the translation gives again as it is.</param>
/// <param name="WithoutAnswers">Requests no stored answer of a re-translatable provider decides (they keep their result); why: <see cref="WithoutAnswersWhy"/>.</param>
/// <param name="Failed">Requests whose stored answers could not be read or translated (see <see cref="Failures"/>).</param>
/// <param name="ContinueAfter">Set when the range holds more: call again with <c>after</c> = this; null when the range is done.</param>
/// <param name="WithoutAnswersWhy">The <see cref="WithoutAnswers"/> requests counted by why nothing was replayed for them.</param>
public sealed record RenormalizeReport(int Examined, int Changed, int Unchanged, int WithoutAnswers, int Failed,
    IReadOnlyList<RenormalizeCorrection> Corrections, IReadOnlyList<RenormalizeFailure> Failures, DateTimeOffset? ContinueAfter,
    IReadOnlyDictionary<string, int> WithoutAnswersWhy);

/// <summary>
/// Re-normalization: the stored provider answers of completed requests translated again with today's translation, no
/// provider called. For each attempt whose provider can translate its stored answers again, the attempt's result is
/// worked out anew from its job's answers; the request's result is rebuilt from its attempts as the completion path builds
/// it (one attempt's result, or the waterfall's merge), and only when that changes what subscribers saw (outcome,
/// emails, phones, per-field outcomes, contacts) is the ledger updated and a correction staged in the outbox, in one
/// transaction: the next <see cref="EnrichmentRequestRecord.Revision"/>, superseding the previous event. Credits are
/// never changed. Two runs at once (another instance) cannot both correct one request: the request row's version is
/// checked by the update, and the loser finds the result already corrected.
/// </summary>
public sealed class Renormalization(RelayDbContext db, IEnumerable<IAnswerTranslation> translations, TimeProvider time, OutboxSignal outboxSignal,
    ILogger<Renormalization> logger)
{
    /// <summary>Requests read (with their jobs' answers) together.</summary>
    const int ChunkSize = 100;

    readonly Dictionary<ProviderName, IAnswerTranslation> byProvider = translations.ToDictionary(t => t.Provider);

    public async Task<RenormalizeReport> RunAsync(RenormalizeRange range, CancellationToken ct)
    {
        var inRange = db.Requests.AsNoTracking().Where(r => r.State == RequestState.Completed && r.CompletedAt >= range.From && r.CompletedAt < range.To);
        if (range.After is { } after)
            inRange = inRange.Where(r => r.CompletedAt > after);
        var batch = await inRange.OrderBy(r => r.CompletedAt).Select(r => new { r.RequestId, r.CompletedAt }).Take(range.Limit).ToListAsync(ct);
        DateTimeOffset? continueAfter = null;
        if (batch.Count == range.Limit && batch[^1].CompletedAt is { } last)
        {
            // The next batch starts strictly after the last instant: every request completed at it is in this one.
            var taken = batch.Select(b => b.RequestId).ToHashSet();
            batch.AddRange((await inRange.Where(r => r.CompletedAt == last).Select(r => new { r.RequestId, r.CompletedAt }).ToListAsync(ct))
                .Where(r => !taken.Contains(r.RequestId)));
            continueAfter = last;
        }

        var run = new Run();
        foreach (var chunk in batch.Select(b => b.RequestId).Chunk(ChunkSize))
            await ChunkAsync(chunk, run, ct);
        if (run.Corrections.Count > 0)
            outboxSignal.Pulse();
        return new RenormalizeReport(batch.Count, run.Corrections.Count, run.Unchanged, run.WithoutAnswersWhy.Values.Sum(), run.Failures.Count,
            run.Corrections, run.Failures, continueAfter, run.WithoutAnswersWhy);
    }

    sealed class Run
    {
        public List<RenormalizeCorrection> Corrections { get; } = [];
        public List<RenormalizeFailure> Failures { get; } = [];
        public int Unchanged { get; set; }
        public SortedDictionary<string, int> WithoutAnswersWhy { get; } = new(StringComparer.Ordinal);

        public void WithoutAnswers(string why) => WithoutAnswersWhy[why] = WithoutAnswersWhy.GetValueOrDefault(why) + 1;
    }

    public const string NoTranslation = "no attempt of it was made by a provider whose stored answers are translated again";
    public const string NoDecidingAnswer = "no stored answer decided it (it ended at the submit, at the relay's deadline, or before any answer was kept)";

    /// <summary>A job's results from its stored answers, or why they could not be worked out.</summary>
    sealed record JobTranslation(AnswerReplay Replay, string? Error);

    async Task ChunkAsync(Guid[] requestIds, Run run, CancellationToken ct)
    {
        var providers = byProvider.Keys.ToList();
        var jobIds = await db.Attempts.AsNoTracking().Where(a => requestIds.Contains(a.RequestId) && providers.Contains(a.Provider))
            .Select(a => a.JobId).Distinct().ToListAsync(ct);
        var translated = await TranslateJobsAsync(jobIds, ct);
        foreach (var requestId in requestIds)
        {
            try
            {
                await RequestAsync(requestId, translated, run, retryOnConflict: true, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // One request that cannot be corrected stays as it was; the others go on.
                run.Failures.Add(new RenormalizeFailure(requestId, $"{ex.GetType().Name}: {ex.Message}"));
                logger.LogWarning(ex, "Re-normalizing request {RequestId} failed; it keeps its result", requestId);
            }
            finally
            {
                db.ChangeTracker.Clear();
            }
        }
    }

    /// <summary>Every job's stored answers translated once, for all its leads (the same person twice in a job is matched as it was).</summary>
    async Task<Dictionary<Guid, JobTranslation>> TranslateJobsAsync(IReadOnlyList<Guid> jobIds, CancellationToken ct)
    {
        var answers = (await db.ProviderAnswerLinks.AsNoTracking().Where(l => jobIds.Contains(l.JobId))
                .Select(l => new { l.JobId, l.Answer!.Id, l.Answer.Endpoint, l.Answer.Status, l.Answer.Body, l.Answer.ReceivedAt }).ToListAsync(ct))
            .Select(a => (a.JobId, a.Id, Answer: new StoredAnswer(a.Endpoint, a.Status, a.Body, a.ReceivedAt)))
            .Concat((await db.ProviderCallbacks.AsNoTracking().Where(c => jobIds.Contains(c.ProviderJobId))
                    .Select(c => new { c.ProviderJobId, c.Id, c.Body, c.ReceivedAt }).ToListAsync(ct))
                // Callbacks after the answers received at the same instant: their ids are of another table.
                .Select(c => (JobId: c.ProviderJobId, Id: long.MaxValue / 2 + c.Id, Answer: new StoredAnswer(StoredAnswer.Callback, null, c.Body, c.ReceivedAt))))
            .OrderBy(a => a.Answer.ReceivedAt).ThenBy(a => a.Id)
            .ToLookup(a => a.JobId, a => a.Answer);
        var leads = (await db.Attempts.AsNoTracking().Where(a => jobIds.Contains(a.JobId))
                .Join(db.Requests.AsNoTracking(), a => a.RequestId, r => r.RequestId,
                    (a, r) => new { a.JobId, a.Provider, a.Lane, a.RequestId, a.FieldsJson, a.StartedAt, a.CompletedAt, r.RequestJson,
                        // The provider's state is the request's only while this job is its last (a waterfall's next step clears it).
                        StateKept = r.ProviderJobId == a.JobId, r.ProviderState })
                .ToListAsync(ct))
            .ToLookup(l => l.JobId);
        var externalIds = await db.ProviderJobs.AsNoTracking().Where(j => jobIds.Contains(j.Id)).ToDictionaryAsync(j => j.Id, j => j.ExternalId, ct);

        var translated = new Dictionary<Guid, JobTranslation>();
        foreach (var jobId in jobIds)
        {
            var mine = answers[jobId].ToList();
            if (mine.Count == 0)
                continue;
            try
            {
                var jobLeads = leads[jobId].Select(l =>
                {
                    var request = LedgerViews.ReadRequest(l.RequestJson);
                    return new StoredLead(new OpenLead(l.RequestId,
                        l.FieldsJson is null ? request : request with { Fields = LedgerViews.ReadFields(l.FieldsJson) }, l.StateKept ? l.ProviderState : null,
                        l.StartedAt), l.CompletedAt, l.Lane, l.StateKept);
                }).ToList();
                translated[jobId] = new JobTranslation(byProvider[leads[jobId].First().Provider].Translate(mine, jobLeads, externalIds.GetValueOrDefault(jobId)), null);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                translated[jobId] = new JobTranslation(new AnswerReplay(new Dictionary<Guid, LeadResult>()), $"the stored answers of job {ProviderJobRecord.NameOf(jobId)} " +
                    $"cannot be translated again: {ex.GetType().Name}: {ex.Message}");
            }
        }
        return translated;
    }

    async Task RequestAsync(Guid requestId, IReadOnlyDictionary<Guid, JobTranslation> translated, Run run, bool retryOnConflict, CancellationToken ct)
    {
        var request = await db.Requests.Include(r => r.ProviderJob).SingleAsync(r => r.RequestId == requestId, ct);
        var attempts = await db.Attempts.Where(a => a.RequestId == requestId).OrderBy(a => a.Number).ToListAsync(ct);
        var ended = attempts.Where(a => !a.IsOpen).ToList();
        var decided = ended.Where(a => translated.ContainsKey(a.JobId)).ToList();
        if (decided.FirstOrDefault(a => translated[a.JobId].Error is not null) is { } broken)
        {
            run.Failures.Add(new RenormalizeFailure(requestId, translated[broken.JobId].Error!));
            return;
        }
        var replayed = decided.Where(a => translated[a.JobId].Replay.Results.ContainsKey(requestId)).ToList();
        if (replayed.Count == 0)
        {
            run.WithoutAnswers(decided.Select(a => translated[a.JobId].Replay.NotReplayed.GetValueOrDefault(requestId)).OfType<string>().FirstOrDefault()
                               ?? (ended.Any(a => byProvider.ContainsKey(a.Provider)) ? NoDecidingAnswer : NoTranslation));
            return;
        }
        decided = replayed;

        var before = LedgerViews.ToCompletedEvent(request, request.ProviderJob, attempts);
        foreach (var attempt in decided)
        {
            var again = translated[attempt.JobId].Replay.Results[requestId];
            attempt.Outcome = again.Outcome;
            attempt.EmailsJson = System.Text.Json.JsonSerializer.Serialize(again.Emails ?? []);
            attempt.PhonesJson = System.Text.Json.JsonSerializer.Serialize(again.Phones ?? []);
            attempt.Detail = again.Detail; // credits stay as charged
        }
        // As the completion path: one attempt's result as it is, several merged (the waterfall's rule).
        var lastAttempt = ended[^1];
        var last = new CompletionResult(lastAttempt.Outcome!.Value, LedgerViews.ReadList(lastAttempt.EmailsJson), LedgerViews.ReadList(lastAttempt.PhonesJson),
            lastAttempt.Detail, lastAttempt.CreditsCharged);
        var result = Waterfall.Merge(ended, last);
        request.Outcome = result.Outcome;
        request.EmailsJson = System.Text.Json.JsonSerializer.Serialize(result.Emails ?? []);
        request.PhonesJson = System.Text.Json.JsonSerializer.Serialize(result.Phones ?? []);
        request.Detail = result.Detail;
        var after = LedgerViews.ToCompletedEvent(request, request.ProviderJob, attempts);
        if (SameForSubscribers(before, after))
        {
            run.Unchanged++;
            return;
        }

        request.Revision++;
        request.Version++;
        var correction = LedgerViews.ToCompletedEvent(request, request.ProviderJob, attempts);
        db.Outbox.Add(OutboxRows.For(correction, correction.EventId, time.GetUtcNow(), request.TraceParent));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException) when (retryOnConflict)
        {
            // Another run (another instance) corrected it first: examined again as the ledger holds it now.
            db.ChangeTracker.Clear();
            await RequestAsync(requestId, translated, run, retryOnConflict: false, ct);
            return;
        }
        run.Corrections.Add(new RenormalizeCorrection(requestId, correction.Revision, correction.EventId, correction.Supersedes!.Value));
        logger.LogInformation("Request {RequestId} corrected from its stored answers: revision {Revision} ({EventId}) supersedes {Supersedes}",
            requestId, correction.Revision, correction.EventId, correction.Supersedes);
    }

    /// <summary>Whether a subscriber would see the same result: outcome, contacts, and how each attempt's fields ended.</summary>
    static bool SameForSubscribers(EnrichmentCompleted before, EnrichmentCompleted after) =>
        before.Outcome == after.Outcome
        && before.Emails.SequenceEqual(after.Emails)
        && before.Phones.SequenceEqual(after.Phones)
        && before.Contacts.SequenceEqual(after.Contacts)
        && before.Attempts.Select(a => a.Fields).Zip(after.Attempts.Select(a => a.Fields)).All(f => f.First.SequenceEqual(f.Second));
}
