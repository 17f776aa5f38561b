using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// One Lance task: a (person, field) enrichment. <c>unsent</c> until a bulk call took it or Lance was found to hold a
/// record it reuses; then Lance's own status. <see cref="Outcome"/> is set once the task is terminal.
/// </summary>
public sealed record LanceTask(string Status, bool? DataFound = null, string? Error = null, Outcome? Outcome = null)
{
    /// <summary>Not sent yet, or sent by a call whose answer never came.</summary>
    public const string Unsent = "unsent";
    /// <summary>Sent, and Lance answered, but its answer held no record for this person.</summary>
    public const string Unanswered = "unanswered";
    /// <summary>Lance refused the call that held it.</summary>
    public const string Refused = "refused";

    /// <summary>The relay asked Lance what it held before sending: <see cref="PriorRecordId"/> and <see cref="Before"/> are known.</summary>
    public bool Checked { get; init; }

    /// <summary>The latest record Lance held for this person and field before the submit (null: none). It is not ours.</summary>
    public string? PriorRecordId { get; init; }

    /// <summary>The field's contacts on Lance's shared person record before the submit; null when unknown.</summary>
    public IReadOnlyList<string>? Before { get; init; }

    /// <summary>
    /// Set when the relay could not ask before sending (a submit cut off before its answer was recorded, a Lance
    /// selection): a record created before this instant, by Lance's clock, was not created by our call.
    /// </summary>
    public DateTimeOffset? OursIfCreatedAfter { get; init; }

    /// <summary>The record this task follows.</summary>
    public string? RecordId { get; init; }

    /// <summary>The record was Lance's before our submit, or another request of ours counts it: it cost this one nothing.</summary>
    public bool Reused { get; init; }

    /// <summary>The credit transaction Lance recorded on our record once it was paid for (at submit or on success: §5.16).</summary>
    public string? CreditTransactionId { get; init; }

    public bool IsTerminal => Outcome is not null;

    /// <summary>Lance paid this task from our credits: our own record, carrying a credit transaction.</summary>
    public bool Charged => !Reused && CreditTransactionId is not null;

    /// <summary>This task following <paramref name="record"/> from now on; <paramref name="reused"/>: it costs this request nothing.</summary>
    public LanceTask Adopt(LanceEnrichment record, bool reused) =>
        (this with { RecordId = record.Id, Reused = reused, CreditTransactionId = null }).Follow(record);

    /// <summary>Lance's state of the record; its credit transaction only when it is the record this task follows.</summary>
    public LanceTask Follow(LanceEnrichment record) => this with
    {
        Status = record.Status,
        DataFound = record.DataFound,
        Error = record.Status is "failed" or "cancelled" or "timeout" ? record.Error : null,
        Outcome = record.Status switch
        {
            "finished" => record.DataFound == true ? Contracts.Outcome.Found : Contracts.Outcome.NotFound,
            "failed" or "cancelled" => Contracts.Outcome.Failed,
            "timeout" => Contracts.Outcome.TimedOut,
            _ => null, // pending, or a status this relay does not know yet: open until the deadline
        },
        CreditTransactionId = record.Id == RecordId ? record.CreditTransactionId ?? CreditTransactionId : CreditTransactionId,
    };

    /// <summary>
    /// A task of a Lance selection (bulk mode), where nobody knows beforehand whom Lance will select. A new record is
    /// pending in the answer; one finished already, or created well before the call, was Lance's to reuse.
    /// </summary>
    public static LanceTask Selected(LanceEnrichment record, DateTimeOffset sentAt)
    {
        var after = sentAt - LanceTasks.ClockSkewAllowance;
        var task = new LanceTask(Unsent) { Checked = true, OursIfCreatedAfter = after };
        return task.Adopt(record, reused: record.Status != "pending" || record.CreatedAt < after);
    }
}

/// <summary>One request's Lance tasks by field, and the person they are for.</summary>
public sealed class LanceTaskSet(string personId, Dictionary<string, LanceTask> tasks)
{
    public string PersonId { get; } = personId;
    public Dictionary<string, LanceTask> Tasks { get; } = tasks;

    /// <summary>The relay's deadline has passed: whatever is still open ends now.</summary>
    public bool PastDeadline { get; init; }

    /// <summary>The job whose read this set is part of: Lance's answers to calls made for this job alone are linked to it.</summary>
    public Guid? JobId { get; init; }

    /// <summary>Why a call this request needed failed in this flush or poll (the first such call); null when none did.</summary>
    public string? Failure { get; private set; }

    internal void Failed(string why) => Failure ??= why;
}

/// <summary>
/// How the relay sends Lance tasks, follows them, and ends a request once all its tasks are terminal. Scoped: one
/// flush, poll or selection at a time (two requests for one person and field in it share one record, charged once).
/// </summary>
public sealed class LanceTasks(LanceClient client, IOptions<LanceOptions> options, ILogger<LanceTasks> logger)
{
    public const string Lane = "lance";
    public static readonly string[] LanceFields = ["emails", "phones"];

    /// <summary>How far Lance's clock may be from ours, where the relay has to compare the two.</summary>
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromMinutes(1);

    // Lance documents no rate limit; the client's own cap (8 concurrent calls) still applies.
    const int MaxConcurrentPersonReads = 8;

    readonly HashSet<string> claimed = new(StringComparer.Ordinal);

    public static string FieldOf(EnrichmentField field) => field == EnrichmentField.Email ? "emails" : "phones";

    public static Dictionary<string, LanceTask> Read(string? providerState) =>
        providerState is null ? []
            : JsonSerializer.Deserialize<Dictionary<string, LanceTask>>(providerState) ?? throw new JsonException("A request's Lance task state is null.");

    public static string Write(Dictionary<string, LanceTask> tasks) => JsonSerializer.Serialize(tasks);

    /// <param name="oursIfCreatedAfter">For a request whose submit may have reached Lance unrecorded: see <see cref="LanceTask.OursIfCreatedAfter"/>.</param>
    public static Dictionary<string, LanceTask> Initial(EnrichmentRequested request, DateTimeOffset? oursIfCreatedAfter = null) =>
        (request.Fields ?? []).Distinct().ToDictionary(FieldOf, _ => new LanceTask(LanceTask.Unsent) { OursIfCreatedAfter = oursIfCreatedAfter });

    /// <summary>
    /// Sends every unsent task, one manual bulk call per field, up to 1,000 persons each. Before a task is first sent
    /// the relay asks Lance what it already holds: the person's contacts (so that only what this request finds is
    /// reported) and the task's latest record. A pending or finished record is Lance's to reuse: adopted, free, and
    /// never sent, so no reading of Lance's pricing can charge for it (§5.16). A task sent before whose answer never
    /// came is looked up the same way, and a record Lance did not hold before is the one that call created.
    /// </summary>
    public async Task SendAsync(IReadOnlyList<LanceTaskSet> sets, CancellationToken ct)
    {
        var unsent = sets.SelectMany(s => s.Tasks.Where(t => t.Value.Status == LanceTask.Unsent).Select(t => (Set: s, Field: t.Key))).ToList();
        if (unsent.Count == 0)
            return;

        // A task is looked up only with its person's contacts in hand (or already checked): one failed read stays that person's.
        var people = await ReadPeopleAsync(unsent.Where(u => !u.Set.Tasks[u.Field].Checked).Select(u => u.Set), ct);
        var lookups = new List<(LanceTaskSet Set, string Field)>();
        foreach (var (set, field) in unsent)
        {
            if (set.Tasks[field].Checked || people[set.PersonId].Failure is null)
                lookups.Add((set, field));
            else if (!people[set.PersonId].RefusedTheRelay)
                set.Failed($"Reading Lance person {set.PersonId} before sending its {field} failed: {people[set.PersonId].Failure}");
        }
        var held = await QueryAsync(lookups, ct);
        var ready = new List<(LanceTaskSet Set, string Field)>();
        foreach (var (set, field) in lookups)
        {
            if (!held.TryGetValue((set.PersonId, field), out var records))
                continue; // the query failed: nothing is sent without asking first
            var task = set.Tasks[field];
            var ours = Ours(task, records);
            if (!task.Checked)
            {
                var person = people[set.PersonId].Person;
                var prior = ours is null ? Newest(records) : null;
                task = task with
                {
                    Checked = true,
                    PriorRecordId = prior?.Id,
                    // A person Lance does not hold yet holds no contacts.
                    Before = person is null ? [] : ContactsOf(person, field),
                };
                if (prior is { IsReusable: true })
                    task = task.Adopt(prior, reused: true);
            }
            if (ours is not null)
                task = task.Adopt(ours, reused: ClaimedBefore(ours));
            set.Tasks[field] = task;
            if (task.Status == LanceTask.Unsent)
                ready.Add((set, field));
        }

        foreach (var field in LanceFields)
        {
            var persons = ready.Where(r => r.Field == field)
                .GroupBy(r => r.Set.PersonId, StringComparer.OrdinalIgnoreCase)
                .Select(g => (PersonId: g.Key, Sets: g.Select(r => r.Set).ToList()))
                .ToList();
            foreach (var chunk in persons.Chunk(LanceOptions.MaxIdsPerCall))
                await SendCallAsync(field, chunk, ct);
        }
    }

    /// <summary>
    /// One bulk call; Lance's answer recorded on each task. A call that fails without an answer leaves its tasks
    /// <c>unsent</c>, for the next poll to look up and send again. A <c>400</c> on several persons is split in halves
    /// until the persons Lance refuses are alone: only they complete <c>rejected</c>.
    /// </summary>
    async Task SendCallAsync(string field, IReadOnlyList<(string PersonId, List<LanceTaskSet> Sets)> persons, CancellationToken ct)
    {
        var ids = persons.Select(p => p.PersonId).ToList();
        var carried = persons.SelectMany(p => p.Sets).ToList();
        HttpResponseMessage? response;
        SubmitResult? failure;
        using (AnswersFor(carried))
            (response, failure) = await SubmitCalls.SendAsync("Lance", token => client.BulkAsync(field, ids, token), ct);
        if (failure is not null)
        {
            foreach (var set in carried)
                set.Failed($"A bulk call for {field} failed: {failure.Detail}");
            if (failure.Status == SubmitStatus.Unknown)
                logger.LogWarning("A bulk call for {Field} of {Count} persons may or may not have reached Lance: {Detail}; the next poll asks Lance before sending any again",
                    field, ids.Count, failure.Detail);
            else
                logger.LogWarning("A bulk call for {Field} of {Count} persons was not sent: {Detail}; the next poll sends it", field, ids.Count, failure.Detail);
            return;
        }
        using (response)
        {
            if (response!.IsSuccessStatusCode)
            {
                ILookup<string, LanceEnrichment> records;
                try
                {
                    records = LanceClient.ReadEnrichments(await response.Content.ReadAsStringAsync(ct))
                        .Where(r => r.Field == field)
                        .ToLookup(r => r.EntityId, StringComparer.OrdinalIgnoreCase);
                }
                catch (JsonException ex)
                {
                    // Taken, but unreadable: as for an answer that never came, Lance is asked before any is sent again.
                    foreach (var set in carried)
                        set.Failed($"Lance's answer to a bulk call for {field} is unreadable: {ex.Message}");
                    logger.LogWarning("Lance's answer to a bulk call for {Field} of {Count} persons is unreadable ({Error}); the next poll asks Lance before sending any again",
                        field, ids.Count, ex.Message);
                    return;
                }
                foreach (var (personId, sets) in persons)
                {
                    var record = Newest(records[personId]);
                    foreach (var set in sets)
                    {
                        var task = set.Tasks[field];
                        set.Tasks[field] = record is null
                            ? task with { Status = LanceTask.Unanswered }
                            // Handed back the record it held before: Lance reused it (a failed one too, if it does that: §5.17).
                            : task.Adopt(record, reused: (record.Id is not null && record.Id == task.PriorRecordId) || ClaimedBefore(record));
                    }
                }
                return;
            }

            var error = await LanceClient.ReadErrorAsync(response, ct);
            if (response.StatusCode == HttpStatusCode.BadRequest && persons.Count > 1)
            {
                // Lance validates before doing any work, so a 400 proves nothing was done or charged: the halves go again.
                logger.LogInformation("Lance refused a bulk call for {Field} of {Count} persons ({Error}); sending it in halves to find the persons it refuses",
                    field, persons.Count, error);
                var half = persons.Count / 2;
                await SendCallAsync(field, persons.Take(half).ToList(), ct);
                await SendCallAsync(field, persons.Skip(half).ToList(), ct);
                return;
            }
            Outcome? refused = response.StatusCode switch
            {
                // All or nothing: Lance checks credits before doing any work.
                HttpStatusCode.PaymentRequired => Outcome.InsufficientCredits,
                HttpStatusCode.BadRequest => Outcome.Rejected,
                // 401/403 (the key) or 404 (the address) refuse the relay, not the persons: Lance is paused (its client's
                // watch) and the tasks wait, like 429 / 5xx, to be looked up and sent again once it works.
                _ => null,
            };
            if (refused is not { } outcome)
            {
                if (!RefusesTheRelay(response.StatusCode))
                    foreach (var set in carried)
                        set.Failed($"Lance answered a bulk call for {field} with {error}");
                logger.LogWarning("Lance answered a bulk call for {Field} of {Count} persons with {Error}; the next poll asks Lance before sending any again",
                    field, ids.Count, error);
                return;
            }
            foreach (var (_, sets) in persons)
                foreach (var set in sets)
                    set.Tasks[field] = set.Tasks[field] with { Status = LanceTask.Refused, Error = $"Lance: {error}", Outcome = outcome };
        }
    }

    /// <summary>Asks Lance about every task sent and still open, 200 at a time, keyed by (person, field), never by enrichment id.</summary>
    public async Task RefreshAsync(IReadOnlyList<LanceTaskSet> sets, CancellationToken ct)
    {
        var open = sets.SelectMany(s => s.Tasks.Where(t => !t.Value.IsTerminal && t.Value.Status != LanceTask.Unsent).Select(t => (Set: s, Field: t.Key))).ToList();
        if (open.Count == 0)
            return;
        var held = await QueryAsync(open, ct);
        foreach (var (set, field) in open)
        {
            if (!held.TryGetValue((set.PersonId, field), out var records))
                continue;
            var task = set.Tasks[field];
            // Our record while Lance shows it; else the newest since the submit (an attempt another request made after ours ended).
            var record = records.FirstOrDefault(r => r.Id is not null && r.Id == task.RecordId)
                         ?? (Newest(records) is { } newest && newest.Id != task.PriorRecordId ? newest : null);
            if (task.Status == LanceTask.Unanswered)
                // Lance answers with the records it made: one that is still not there was never made.
                set.Tasks[field] = record is not null
                    ? task.Adopt(record, reused: ClaimedBefore(record))
                    : task with
                    {
                        Error = "Lance took the bulk call but made no enrichment for this person, and holds none (it may not know this id)",
                        Outcome = Outcome.Rejected,
                    };
            else if (record is not null)
                set.Tasks[field] = task.Follow(record);
        }
    }

    /// <summary>
    /// The end of each request whose tasks are all terminal. Contacts are read from Lance's person record, once per
    /// person; a person whose read fails waits for the next poll (or, past the deadline, fails) without holding up
    /// anybody else.
    /// </summary>
    public async Task<IReadOnlyDictionary<LanceTaskSet, LeadResult>> CompleteAsync(IReadOnlyList<LanceTaskSet> sets, CancellationToken ct)
    {
        var ended = sets.Where(s => s.Tasks.Count > 0 && s.Tasks.Values.All(t => t.IsTerminal)).ToList();
        var people = await ReadPeopleAsync(ended.Where(s => s.Tasks.Values.Any(t => t.Outcome == Outcome.Found)), ct);
        var results = new Dictionary<LanceTaskSet, LeadResult>();
        foreach (var set in ended)
        {
            var read = people.GetValueOrDefault(set.PersonId);
            if (Result(set, read, options.Value.CreditsPerEnrichment, options.Value.PhoneFormat) is { } result)
                results[set] = result;
            else if (read is not { RefusedTheRelay: true })
                set.Failed($"Reading Lance person {set.PersonId}, whose data Lance found, failed: {read?.Failure}");
        }
        return results;
    }

    /// <summary>
    /// A bulk-mode selection: Lance picks the persons from its search, and each becomes one task on the record Lance
    /// answers with for it (reused, and free, when it was finished already or made well before the call). Lance's
    /// refusals of the selection itself (400, 402) are answered; anything else throws, to be tried again, which
    /// Lance's reuse of records makes free.
    /// </summary>
    /// <param name="sentAt">When the call leaves, by the relay's clock: a record made before it was not made for it.</param>
    public async Task<LanceSelection> SelectAsync(SelectionEnrichmentRequested selection, DateTimeOffset sentAt, CancellationToken ct)
    {
        var field = FieldOf(selection.Field);
        using var response = await client.SelectAsync(field, selection.Filters, selection.StartIndex, selection.TargetCount, selection.ExcludedIds ?? [], ct);
        if (!response.IsSuccessStatusCode)
        {
            var error = await LanceClient.ReadErrorAsync(response, ct);
            Outcome? refused = response.StatusCode switch
            {
                HttpStatusCode.PaymentRequired => Outcome.InsufficientCredits,
                HttpStatusCode.BadRequest => Outcome.Rejected,
                // 401/403/404 refuse the relay's key or address, not the selection: it is tried again later.
                _ => null,
            };
            if (refused is null)
                throw new HttpRequestException($"Lance answered {(int)response.StatusCode} to selection {selection.SelectionId}: {error}");
            return new LanceSelection(0, [], refused, $"Lance: {error}");
        }

        var records = LanceClient.ReadEnrichments(await response.Content.ReadAsStringAsync(ct)).Where(r => r.Field == field).ToList();
        var sets = records.DistinctBy(r => r.EntityId.ToLowerInvariant())
            .Select(r => new LanceTaskSet(r.EntityId, new Dictionary<string, LanceTask> { [field] = LanceTask.Selected(r, sentAt) }))
            .ToList();
        // Reused records may already be finished: those persons end now.
        var results = await CompleteAsync(sets, ct);
        return new LanceSelection(records.Count,
            sets.Select(s => new LanceSelectedPerson(s.PersonId, Write(s.Tasks), results.GetValueOrDefault(s))).ToList());
    }

    /// <summary>
    /// A request's end, or null while a found field's person cannot be read yet. Only fields whose own task found
    /// data are reported, and of those only the contacts Lance added since the relay looked before the submit:
    /// persons are shared across Lance organizations, so what was on the record before is not what this request
    /// found. When nothing was added (Lance reused an enrichment that had found it earlier, or found what was there
    /// already) every contact of the field is reported, and the detail says so. Phones are written as
    /// <paramref name="phoneFormat"/> says, once what this request added is known (the record before is as Lance wrote it).
    /// A pure function of the task state and the person read: re-normalization replays it (<see cref="LanceAnswerTranslation"/>).
    /// </summary>
    internal static LeadResult? Result(LanceTaskSet set, PersonRead? read, decimal creditsPerEnrichment, PhoneFormat phoneFormat)
    {
        var found = new Dictionary<string, IReadOnlyList<string>>();
        var ends = new List<Outcome>();
        var notes = new List<string>();
        foreach (var (field, task) in set.Tasks)
        {
            if (task.Outcome != Outcome.Found)
            {
                ends.Add(task.Outcome!.Value);
                notes.Add($"{field}: {task.Error ?? (task.Outcome == Outcome.NotFound ? "Lance found nothing" : task.Status)}");
                continue;
            }
            if (read is not { Failure: null })
            {
                if (!set.PastDeadline)
                    return null;
                ends.Add(Outcome.Failed);
                notes.Add($"{field}: Lance found data, but its person record could not be read before the relay's deadline ({read?.Failure})");
                continue;
            }
            if (read.Person is not { } person)
            {
                ends.Add(Outcome.Failed);
                notes.Add($"{field}: Lance reported data found, but holds no person {set.PersonId}");
                continue;
            }
            var held = ContactsOf(person, field);
            var added = task.Before is null ? held : held.Except(task.Before, StringComparer.OrdinalIgnoreCase).ToList();
            if (held.Count == 0)
            {
                ends.Add(Outcome.Failed);
                notes.Add($"{field}: Lance reported data found, but its person record holds none");
                continue;
            }
            ends.Add(Outcome.Found);
            if (task.Before is null)
            {
                found[field] = held;
                notes.Add($"{field}: all {held.Count} on Lance's shared person record, which may include contacts found for other organizations");
            }
            else if (added.Count > 0)
            {
                found[field] = added;
                if (held.Count > added.Count)
                    notes.Add($"{field}: {held.Count - added.Count} more already on Lance's shared person record before this request, not reported");
            }
            else
            {
                found[field] = held;
                notes.Add($"{field}: found before this request (Lance reused its enrichment, or found what its shared person record held), " +
                          $"so all {held.Count} on that record are reported");
            }
        }

        var credits = set.Tasks.Values.Count(t => t.Charged) * creditsPerEnrichment;
        var detail = notes.Count == 0 ? null : string.Join("; ", notes) + ".";
        if (found.Count > 0)
            return new LeadResult(Outcome.Found, found.GetValueOrDefault("emails") ?? [], PhoneNumbers.Written(found.GetValueOrDefault("phones") ?? [], phoneFormat),
                ends.Any(e => e != Outcome.Found) ? "Partly found. " + detail : detail, credits);
        Outcome[] severity = [Outcome.Failed, Outcome.TimedOut, Outcome.InsufficientCredits, Outcome.Rejected, Outcome.NotFound];
        return new LeadResult(severity.First(ends.Contains), Detail: detail, CreditsCharged: credits);
    }

    /// <summary>
    /// Lance's records for each (person, field), 200 tasks a query; the tasks of a query that failed are left out, and
    /// their requests marked with the failure.
    /// </summary>
    async Task<Dictionary<(string PersonId, string Field), List<LanceEnrichment>>> QueryAsync(IReadOnlyList<(LanceTaskSet Set, string Field)> tasks, CancellationToken ct)
    {
        var held = new Dictionary<(string PersonId, string Field), List<LanceEnrichment>>(PersonFieldComparer.Instance);
        var wanting = tasks.ToLookup(t => (t.Set.PersonId, t.Field), t => t.Set, PersonFieldComparer.Instance);
        foreach (var chunk in wanting.Select(w => w.Key).Chunk(LanceOptions.MaxTasksPerQuery))
        {
            var sets = chunk.SelectMany(key => wanting[key]).ToList();
            IReadOnlyList<LanceEnrichment> records;
            try
            {
                using (AnswersFor(sets))
                    records = await client.QueryAsync(chunk, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning("Lance's batch query for {Count} tasks failed: {Error}; they are asked about again on the next poll", chunk.Length, ex.Message);
                if (!RefusesTheRelay((ex as HttpRequestException)?.StatusCode))
                    foreach (var set in sets)
                        set.Failed($"Lance's batch query for {chunk.Length} tasks failed: {ex.Message}");
                continue;
            }
            foreach (var key in chunk)
                held[key] = [];
            // The answer leaves out tasks without a record and promises no order: matched by (person, field).
            foreach (var record in records)
                if (held.TryGetValue((record.EntityId, record.Field), out var list))
                    list.Add(record);
        }
        return held;
    }

    /// <summary>Reads each person once, a few at a time; a failed read is that person's alone.</summary>
    async Task<Dictionary<string, PersonRead>> ReadPeopleAsync(IEnumerable<LanceTaskSet> sets, CancellationToken ct)
    {
        var reads = new ConcurrentDictionary<string, PersonRead>(StringComparer.OrdinalIgnoreCase);
        await Parallel.ForEachAsync(sets.GroupBy(s => s.PersonId, StringComparer.OrdinalIgnoreCase),
            new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentPersonReads, CancellationToken = ct },
            async (person, token) =>
            {
                try
                {
                    using (AnswersFor(person))
                        reads[person.Key] = new PersonRead(await client.GetPersonAsync(person.Key, token), null);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    reads[person.Key] = new PersonRead(null, ex.Message, RefusesTheRelay((ex as HttpRequestException)?.StatusCode));
                }
            });
        var failed = reads.Where(r => r.Value.Failure is not null).ToList();
        if (failed.Count > 0)
            logger.LogWarning("Reading {Count} Lance persons failed (first {PersonId}: {Error}); their requests wait for the next poll",
                failed.Count, failed[0].Key, failed[0].Value.Failure);
        return new Dictionary<string, PersonRead>(reads, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Lance's answers to a call made for one job's requests alone are that job's; a call shared by several jobs is
    /// linked to every job of the read (null: nothing to say).
    /// </summary>
    static IDisposable? AnswersFor(IEnumerable<LanceTaskSet> sets) =>
        sets.Select(s => s.JobId).Distinct().Take(2).ToList() is [{ } job] ? ProviderAnswers.ForJob(job) : null;

    /// <summary>
    /// 401/403 (the key) or 404 (the address) refuse the relay, not the requests: Lance is paused (its client's watch)
    /// and nothing is held against the jobs, whose tasks wait for it.
    /// </summary>
    static bool RefusesTheRelay(HttpStatusCode? status) =>
        status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound;

    /// <summary>The record an earlier call of this task created, if Lance shows one.</summary>
    static LanceEnrichment? Ours(LanceTask task, IReadOnlyList<LanceEnrichment> records)
    {
        var newest = Newest(records);
        if (newest is null)
            return null;
        if (task.Checked)
            return newest.Id != task.PriorRecordId ? newest : null;
        return task.OursIfCreatedAfter is { } after && newest.CreatedAt >= after ? newest : null;
    }

    static LanceEnrichment? Newest(IEnumerable<LanceEnrichment> records) =>
        records.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.UpdatedAt).FirstOrDefault();

    /// <summary>True when another task of this flush or poll took the record first: that one counts its cost.</summary>
    bool ClaimedBefore(LanceEnrichment record) => record.Id is not null && !claimed.Add(record.Id);

    static IReadOnlyList<string> ContactsOf(LancePerson person, string field) => field == "emails" ? person.Emails : person.Phones;

    sealed class PersonFieldComparer : IEqualityComparer<(string PersonId, string Field)>
    {
        public static readonly PersonFieldComparer Instance = new();

        public bool Equals((string PersonId, string Field) x, (string PersonId, string Field) y) =>
            StringComparer.OrdinalIgnoreCase.Equals(x.PersonId, y.PersonId) && x.Field == y.Field;

        public int GetHashCode((string PersonId, string Field) key) =>
            HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(key.PersonId), key.Field);
    }
}

/// <summary>A person read: the person, null for one Lance does not hold, or why the read failed.</summary>
/// <param name="RefusedTheRelay">It failed because Lance refused the relay's key, not for anything of the person.</param>
public sealed record PersonRead(LancePerson? Person, string? Failure, bool RefusedTheRelay = false);

/// <summary>One person a Lance selection picked: its request's task state, and its result when Lance had it already.</summary>
public sealed record LanceSelectedPerson(string PersonId, string ProviderState, LeadResult? Result);

/// <summary>What Lance answered a selection.</summary>
/// <param name="Records">How many records Lance answered with (a person may appear twice; it is one request).</param>
/// <param name="Refused">Lance refused the selection itself (no credits, a bad filter): nobody was selected.</param>
public sealed record LanceSelection(int Records, IReadOnlyList<LanceSelectedPerson> Persons, Outcome? Refused = null, string? Detail = null);
