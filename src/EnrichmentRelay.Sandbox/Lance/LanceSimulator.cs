using EnrichmentRelay.Sandbox.Precept;
using System.Globalization;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Lance;

/// <summary>
/// A faithful Lance (providers.md §3): the global person database, enrichment records per (person, field) with
/// server-side reuse, all-or-nothing credits, the batch status query and faults on demand. Where the vendor's
/// pages leave a behaviour open, <see cref="LanceSettings"/> has a switch for each reading.
/// <para>
/// Nothing runs in the background: every state is worked out from the injected <see cref="TimeProvider"/> the
/// moment anything looks (an enrichment created at T is pending until T + its delay, then terminal, and its
/// effect — an email or phone appended to the person — happens once, then). Tests drive it with a fake clock.
/// Thread-safe: all state is under one lock.
/// </para>
/// </summary>
public sealed class LanceSimulator
{
    public const int MaxSelection = 1000;
    public const int MaxQueryTasks = 200;
    public const decimal CreditsPerEnrichment = 1m;
    static readonly string[] SubmitFields = ["emails", "phones"];
    static readonly string[] QueryFields = ["emails", "phones", "summary"];

    readonly object gate = new();
    readonly string apiKey;
    readonly TimeProvider time;
    readonly Dictionary<string, Person> persons = new(StringComparer.OrdinalIgnoreCase);
    readonly List<Enrichment> enrichments = [];
    readonly Dictionary<(string PersonId, string Field), LanceOutcome> outcomes = new(new KeyComparer());
    readonly Dictionary<string, int> charges = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, int> submissions = new(StringComparer.OrdinalIgnoreCase);
    readonly HashSet<string> invalidIds = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, (int Count, int Status)> failPersonReads = new(StringComparer.OrdinalIgnoreCase);
    (int Count, int Status) failSubmits;
    int dropConnections;
    int bulkCalls, queryCalls, personReads, enrichmentsCreated, enrichmentsReused, largestBulk, largestQuery, recordNumber;
    decimal creditsCharged;

    public LanceSimulator(string apiKey, TimeProvider time)
    {
        this.apiKey = apiKey;
        this.time = time;
        Settings = new LanceSettings(gate);
    }

    public LanceSettings Settings { get; }

    /// <summary>True for <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public bool IsAuthorized(string? authorization) =>
        authorization is not null
        && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
        && authorization["Bearer ".Length..].Trim() == apiKey;

    /// <summary>Seeds the person database (bulk-mode selections search the seeded persons). Renames a known person.</summary>
    public void AddPerson(string id, string? firstName = null, string? lastName = null)
    {
        if (!IsUuid(id))
            throw new ArgumentException("A person id is a uuid.", nameof(id));
        lock (gate)
        {
            var person = EnsurePerson(id);
            person.Seeded = true;
            person.FirstName = firstName ?? person.FirstName;
            person.LastName = lastName ?? person.LastName;
        }
    }

    /// <summary>What enriching this person's <paramref name="field"/> (<c>emails</c> or <c>phones</c>) comes to.</summary>
    public void SetOutcome(string personId, string field, LanceOutcome outcome)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(personId);
        if (!SubmitFields.Contains(field))
            throw new ArgumentException("The field is emails or phones.", nameof(field));
        if (!Enum.IsDefined(outcome))
            throw new ArgumentOutOfRangeException(nameof(outcome));
        lock (gate) outcomes[(personId, field)] = outcome;
    }

    /// <summary>The next <paramref name="count"/> bulk submits answer <paramref name="statusCode"/> and create nothing.</summary>
    public void FailNextSubmits(int count, int statusCode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (gate) failSubmits = (count, statusCode);
    }

    /// <summary>The next <paramref name="count"/> accepted bulk submits create (and charge) their records, then cut the connection instead of answering.</summary>
    public void DropConnectionAfterAcceptNext(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (gate) dropConnections = count;
    }

    /// <summary>
    /// Lance refuses this well-formed person id: any manual bulk call holding it answers <c>400 VALIDATION_ERROR</c>
    /// naming it, and does nothing for the other ids of the call.
    /// </summary>
    public void MarkInvalid(string personId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(personId);
        lock (gate) invalidIds.Add(personId.Trim());
    }

    /// <summary>The next <paramref name="count"/> reads of this person answer <paramref name="statusCode"/> (a server error by default).</summary>
    public void FailPersonReads(string personId, int count, int statusCode = 500)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(personId);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        lock (gate) failPersonReads[personId.Trim()] = (count, statusCode);
    }

    /// <summary>Removes a person from Lance's database (its enrichment records stay): reading it answers as for an unknown id.</summary>
    public void RemovePerson(string personId)
    {
        lock (gate) persons.Remove(personId);
    }

    public LanceCounters Counters
    {
        get
        {
            lock (gate)
            {
                Advance();
                return new LanceCounters(bulkCalls, queryCalls, personReads, enrichmentsCreated, enrichmentsReused, creditsCharged,
                    largestBulk, largestQuery, new Dictionary<string, int>(charges, StringComparer.OrdinalIgnoreCase),
                    new Dictionary<string, int>(submissions, StringComparer.OrdinalIgnoreCase));
            }
        }
    }

    public IReadOnlyList<LanceEnrichmentSnapshot> Enrichments
    {
        get
        {
            lock (gate)
            {
                Advance();
                return enrichments.Select(e => new LanceEnrichmentSnapshot(e.Id, e.EntityId, e.Field, e.Status, e.DataFound, e.Error,
                    e.CreditTransactionId, e.CreatedAt, e.UpdatedAt, e.DueAt)).ToList();
            }
        }
    }

    public void Reset()
    {
        lock (gate)
        {
            Settings.RestoreDefaults();
            persons.Clear();
            enrichments.Clear();
            outcomes.Clear();
            charges.Clear();
            submissions.Clear();
            invalidIds.Clear();
            failPersonReads.Clear();
            failSubmits = default;
            dropConnections = 0;
            bulkCalls = queryCalls = personReads = enrichmentsCreated = enrichmentsReused = largestBulk = largestQuery = recordNumber = 0;
            creditsCharged = 0;
        }
    }

    // ---- the API ----

    /// <summary>POST /api/v1/operations/enrichment/bulk.</summary>
    public LanceAnswer SubmitBulk(JsonNode? body)
    {
        lock (gate)
        {
            bulkCalls++;
            if (TakeFailure() is { } failure)
                return failure;
            if (body is not JsonObject request || request["selection"] is not JsonObject selection)
                return Invalid("selection is required.");
            var field = Text(request, "field");
            if (field is null)
                return Invalid("field is required.");
            if (!SubmitFields.Contains(field))
                return Invalid("field must be one of: phones, emails.");

            Advance();
            List<string> selected;
            switch (Text(selection, "mode"))
            {
                case "manual":
                    if (selection["includedIds"] is not JsonArray included || included.Count == 0)
                        return Invalid("selection.includedIds must be a non-empty array in manual mode.");
                    if (included.Count > MaxSelection)
                        return Invalid($"selection.includedIds can hold at most {MaxSelection} ids.");
                    selected = [];
                    foreach (var node in included)
                    {
                        var id = node is JsonValue v && v.TryGetValue<string>(out var s) ? s.Trim() : null;
                        if (id is null || !IsUuid(id))
                            return Invalid($"selection.includedIds: '{node?.ToJsonString()}' is not a uuid.");
                        if (invalidIds.Contains(id))
                            return Invalid($"selection.includedIds: '{id}' is not a valid lead id.");
                        if (!persons.TryGetValue(id, out var person))
                        {
                            if (Settings.UnknownIds == LanceUnknownIds.Refuse)
                                return Invalid($"selection.includedIds: no lead '{id}'.");
                            if (Settings.UnknownIds == LanceUnknownIds.Skip)
                                continue;
                        }
                        var known = person?.Id ?? id;
                        if (!selected.Contains(known, StringComparer.OrdinalIgnoreCase))
                            selected.Add(known);
                    }
                    break;
                case "bulk":
                    if (!Integer(selection, "targetCount", out var targetCount) || targetCount is < 1 or > MaxSelection)
                        return Invalid($"selection.targetCount must be an integer from 1 to {MaxSelection} in bulk mode.");
                    var startIndex = 0;
                    if (selection["startIndex"] is not null && (!Integer(selection, "startIndex", out startIndex) || startIndex < 0))
                        return Invalid("selection.startIndex must be an integer of 0 or more.");
                    var excluded = selection["excludedIds"] is JsonArray excludedIds
                        ? excludedIds.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s.Trim() : "").ToHashSet(StringComparer.OrdinalIgnoreCase)
                        : [];
                    // The search result: the seeded persons in id order (filters are not interpreted).
                    selected = persons.Values.Where(p => p.Seeded && !excluded.Contains(p.Id))
                        .Select(p => p.Id).Order(StringComparer.OrdinalIgnoreCase)
                        .Skip(startIndex).Take(targetCount).ToList();
                    break;
                default:
                    return Invalid("selection.mode must be one of: manual, bulk.");
            }

            // Pending or finished records are reused for free; anything else needs a new, paid one.
            var reused = selected.ToDictionary(id => id, id => Latest(id, field) is { Status: "pending" or "finished" } e ? e : null,
                StringComparer.OrdinalIgnoreCase);
            // Checked for the new records under either reading of when they are paid for.
            var fresh = reused.Count(r => r.Value is null);
            if (Settings.Credits < fresh * CreditsPerEnrichment)
                return Error(402, "INSUFFICIENT_CREDITS", $"This enrichment needs {fresh} credits; {Settings.Credits} are available.");

            var now = time.GetUtcNow();
            var delay = Settings.ProcessingDelay;
            var answer = new JsonArray();
            var index = 0;
            foreach (var id in selected)
            {
                var key = $"{id}:{field}";
                submissions[key] = submissions.GetValueOrDefault(key) + 1;
                if (reused[id] is { } existing)
                {
                    enrichmentsReused++;
                    answer.Add(existing.ToJson());
                    continue;
                }
                var person = EnsurePerson(id);
                var enrichment = new Enrichment(NewRecordId(), person.Id, field, now)
                {
                    // Spread between 1/4 and 1 × the processing delay.
                    DueAt = now + delay * (1 + index++ % 4) / 4,
                };
                enrichments.Add(enrichment);
                enrichmentsCreated++;
                if (Settings.Charging == LanceCharging.AtSubmit)
                    Charge(enrichment);
                answer.Add(enrichment.ToJson());
            }
            largestBulk = Math.Max(largestBulk, selected.Count);
            var drop = dropConnections > 0;
            if (drop)
                dropConnections--;
            return new LanceAnswer(200, answer, DropConnection: drop);
        }
    }

    /// <summary>POST /api/v1/operations/enrichment/batch/query.</summary>
    public LanceAnswer QueryBatch(JsonNode? body)
    {
        lock (gate)
        {
            queryCalls++;
            if (body is not JsonObject request || request["tasks"] is not JsonArray tasks || tasks.Count == 0)
                return Invalid("tasks must be a non-empty array.");
            if (tasks.Count > MaxQueryTasks)
                return Invalid($"tasks can hold at most {MaxQueryTasks} items; got {tasks.Count}.");
            var wanted = new List<(string EntityId, string Field, string EntityType)>();
            for (var i = 0; i < tasks.Count; i++)
            {
                if (tasks[i] is not JsonObject task || Text(task, "entityId") is not { } entityId)
                    return Invalid($"tasks[{i}].entityId is required.");
                if (Text(task, "field") is not { } field || !QueryFields.Contains(field))
                    return Invalid($"tasks[{i}].field must be one of: phones, emails, summary.");
                var entityType = Text(task, "entityType") ?? "person";
                if (entityType is not ("person" or "company"))
                    return Invalid($"tasks[{i}].entityType must be one of: person, company.");
                wanted.Add((entityId, field, entityType));
            }
            largestQuery = Math.Max(largestQuery, tasks.Count);

            Advance();
            var everyRecord = Settings.QueryReturnsEveryRecord;
            var found = wanted
                .Where(t => t.EntityType == "person")
                .SelectMany(t => everyRecord ? Records(t.EntityId, t.Field) : Latest(t.EntityId, t.Field) is { } latest ? [latest] : [])
                .Where(e => OutcomeOf(e) != LanceOutcome.Omitted)
                .Distinct()
                .ToList();
            // Order is not promised: clients must match on (entityId, field).
            if (Settings.QueryOrder == LanceQueryOrder.Shuffled)
                new Random(queryCalls).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(found));
            else
                found.Reverse();
            return new LanceAnswer(200, new JsonArray(found.Select(e => (JsonNode)e.ToJson()).ToArray()));
        }
    }

    /// <summary>GET /api/v1/entities/prospects/person/{id}.</summary>
    public LanceAnswer ReadPerson(string id)
    {
        lock (gate)
        {
            personReads++;
            if (failPersonReads.TryGetValue(id, out var fault) && fault.Count > 0)
            {
                failPersonReads[id] = (fault.Count - 1, fault.Status);
                return Error(fault.Status, "INTERNAL_ERROR", "An unexpected error occurred.");
            }
            Advance();
            if (persons.TryGetValue(id, out var person))
                return new LanceAnswer(200, person.ToJson());
            return Settings.UnknownPersonReadStatus == 404
                ? Error(404, "NOT_FOUND", $"Person {id} not found.")
                : Invalid($"id: no person '{id}'.");
        }
    }

    /// <summary>The person as the API shows it, without counting a read; null when unknown.</summary>
    public JsonObject? PersonJson(string id)
    {
        lock (gate)
        {
            Advance();
            return persons.TryGetValue(id, out var person) ? person.ToJson() : null;
        }
    }

    /// <summary>An error answer, its body shaped as <see cref="LanceSettings.ErrorBody"/> says.</summary>
    public LanceAnswer Error(int status, string code, string message) => Settings.ErrorBody switch
    {
        LanceErrorBody.Flat => new(status, new JsonObject { ["code"] = code, ["message"] = message }),
        LanceErrorBody.PlainText => new(status, null, Text: message),
        _ => new(status, new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }),
    };

    public LanceAnswer Invalid(string message) => Error(400, "VALIDATION_ERROR", message);

    // ---- machinery ----

    /// <summary>Ends every enrichment due by now, once, in the order they fell due. Omitted ones stay pending. Under the lock.</summary>
    void Advance()
    {
        var now = time.GetUtcNow();
        foreach (var e in enrichments.Where(e => e.Status == "pending" && e.DueAt <= now).OrderBy(e => e.DueAt).ToList())
        {
            var outcome = OutcomeOf(e);
            if (outcome == LanceOutcome.Omitted)
                continue;
            e.UpdatedAt = e.DueAt;
            e.DataFound = outcome == LanceOutcome.Found;
            e.Status = outcome switch
            {
                LanceOutcome.Found or LanceOutcome.NotFound => "finished",
                LanceOutcome.Failed => "failed",
                LanceOutcome.Timeout => "timeout",
                _ => "cancelled",
            };
            if (outcome == LanceOutcome.Failed)
                e.Error = "Provider error";
            if (outcome == LanceOutcome.Found && Settings.Charging == LanceCharging.OnDataFound)
                Charge(e);
            if (outcome == LanceOutcome.Found && persons.TryGetValue(e.EntityId, out var person))
            {
                var (list, value) = e.Field == "emails" ? (person.Emails, person.FoundEmail()) : (person.Phones, Settings.PhoneStyle.Write(person.FoundPhone()));
                if (!list.Contains(value))
                    list.Add(value);
            }
        }
    }

    LanceOutcome OutcomeOf(Enrichment e) =>
        outcomes.TryGetValue((e.EntityId, e.Field), out var o) ? o
        : Settings.Population is { } population ? (population.Finds("lance", e.EntityId, e.Field == "emails" ? "email" : "phone") ? LanceOutcome.Found : LanceOutcome.NotFound)
        : Settings.DefaultOutcome;

    Enrichment? Latest(string personId, string field) => Records(personId, field).LastOrDefault();

    IEnumerable<Enrichment> Records(string personId, string field) =>
        enrichments.Where(e => e.Field == field && e.EntityId.Equals(personId, StringComparison.OrdinalIgnoreCase));

    /// <summary>Pays for one enrichment and gives it its credit transaction. Under the lock.</summary>
    void Charge(Enrichment e)
    {
        Settings.Credits -= CreditsPerEnrichment;
        creditsCharged += CreditsPerEnrichment;
        var key = $"{e.EntityId}:{e.Field}";
        charges[key] = charges.GetValueOrDefault(key) + 1;
        e.CreditTransactionId = Settings.RecordIds == LanceIdFormat.Opaque
            ? Guid.NewGuid().ToString()
            : "txn_" + Guid.NewGuid().ToString("N")[..12];
    }

    /// <summary>A new enrichment id in the format <see cref="LanceSettings.RecordIds"/> asks for. Under the lock.</summary>
    string NewRecordId() => Settings.RecordIds == LanceIdFormat.Opaque
        ? $"enr_{++recordNumber}_{Guid.NewGuid().ToString("N")[..10]}"
        : Guid.NewGuid().ToString();

    /// <summary>Persons are global: an unknown uuid becomes a person the moment it is enriched. Under the lock.</summary>
    Person EnsurePerson(string id)
    {
        if (!persons.TryGetValue(id, out var person))
        {
            person = new Person(id);
            if (Settings.PreexistingContacts)
                person.Emails.Add($"contact-{Short(id, 8)}@another-org.example");
            persons[id] = person;
        }
        return person;
    }

    LanceAnswer? TakeFailure()
    {
        if (failSubmits.Count <= 0)
            return null;
        failSubmits.Count--;
        var status = failSubmits.Status;
        return status switch
        {
            400 => Invalid("Request failed."),
            401 => Error(401, "UNAUTHORIZED", "Request failed."),
            402 => Error(402, "INSUFFICIENT_CREDITS", "Not enough credits."),
            _ => Error(status, "INTERNAL_ERROR", "An unexpected error occurred during enrichment processing."),
        };
    }

    static bool IsUuid(string? id) => Guid.TryParseExact(id, "D", out _);

    static string Short(string id, int length) => id.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant()[..length];

    static string? Text(JsonObject node, string name) =>
        node[name] is JsonValue v && v.TryGetValue<string>(out var s) && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null;

    static bool Integer(JsonObject node, string name, out int value)
    {
        value = 0;
        return node[name] is JsonValue v && v.TryGetValue(out value);
    }

    static string Iso(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    sealed class KeyComparer : IEqualityComparer<(string PersonId, string Field)>
    {
        public bool Equals((string PersonId, string Field) x, (string PersonId, string Field) y) =>
            StringComparer.OrdinalIgnoreCase.Equals(x.PersonId, y.PersonId) && x.Field == y.Field;

        public int GetHashCode((string PersonId, string Field) key) =>
            HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(key.PersonId), key.Field);
    }

    sealed class Enrichment(string id, string entityId, string field, DateTimeOffset createdAt)
    {
        public string Id { get; } = id;
        public string EntityId { get; } = entityId;
        public string Field { get; } = field;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public DateTimeOffset UpdatedAt { get; set; } = createdAt;
        public DateTimeOffset DueAt { get; init; }
        public string Status { get; set; } = "pending";
        public string? Error { get; set; }
        public bool? DataFound { get; set; }
        public string? CreditTransactionId { get; set; }

        /// <summary>The Enrichment object of providers.md §3.2.</summary>
        public JsonObject ToJson() => new()
        {
            ["id"] = Id,
            ["createdAt"] = Iso(CreatedAt),
            ["updatedAt"] = Iso(UpdatedAt),
            ["entityId"] = EntityId,
            ["entityType"] = "person",
            ["field"] = Field,
            ["status"] = Status,
            ["error"] = Error,
            ["createdBy"] = "user_sandbox",
            ["orgId"] = "org_sandbox",
            ["globalEnrichmentId"] = null,
            ["creditTransactionId"] = CreditTransactionId,
            ["dataFound"] = DataFound,
        };
    }

    sealed class Person(string id)
    {
        public string Id { get; } = id;
        public string? FirstName { get; set; }
        public string? LastName { get; set; }
        public bool Seeded { get; set; }
        public List<string> Emails { get; } = [];
        public List<string> Phones { get; } = [];

        public string FoundEmail() => FirstName is null && LastName is null
            ? $"person-{Short(Id, 8)}@lance.example"
            : $"{string.Join('.', new[] { FirstName, LastName }.OfType<string>().Select(Slug))}@example-{Short(Id, 6)}.com";

        public string FoundPhone()
        {
            // FNV-1a: stable across processes, unlike string.GetHashCode.
            var hash = 2166136261u;
            foreach (var c in Id.ToLowerInvariant())
                hash = (hash ^ c) * 16777619u;
            return "+1555" + (hash % 10_000_000).ToString("D7", CultureInfo.InvariantCulture);
        }

        public JsonObject ToJson() => new()
        {
            ["id"] = Id,
            ["firstName"] = FirstName,
            ["lastName"] = LastName,
            ["jobTitle"] = null,
            ["linkedinUrl"] = null,
            ["city"] = null,
            ["country"] = null,
            ["companyId"] = null,
            ["emails"] = new JsonArray(Emails.Select(e => (JsonNode)e).ToArray()),
            ["phones"] = new JsonArray(Phones.Select(p => (JsonNode)p).ToArray()),
        };

        static string Slug(string name) => string.Concat(name.Trim().ToLowerInvariant().Where(char.IsAsciiLetterOrDigit));
    }
}
