using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace EnrichmentRelay.Sandbox.Woodpecker;

/// <summary>
/// A faithful Woodpecker Lead Finder (providers.md §1): lead and prospect enrichment batches, their per-item
/// states, credits, the prospect database and its v1 search quirks, the one-request-at-a-time rule, and faults
/// on demand.
/// <para>
/// Nothing runs in the background: every state is worked out from the injected <see cref="TimeProvider"/> the
/// moment anything looks (an item queued at T is PENDING until T + its delay, then PROCESSED, and its effects —
/// a created prospect, a charge — happen once, then). Tests drive it with a fake clock. Thread-safe: all state
/// is under one lock.
/// </para>
/// </summary>
public sealed class WoodpeckerSimulator
{
    public const int MaxItemsPerBatch = 50;
    public const decimal CreditsPerEmail = 1.5m;
    public const int DefaultPerPage = 100;
    public const int MaxPerPage = 1000;
    /// <summary>The processing_result of a lead set to <see cref="LeadConversion.Unrecognized"/>: a value the pages do not list.</summary>
    public const string UnrecognizedResult = "ENRICHMENT_FAILED";
    /// <summary>The v1 search fields the simulator holds, all documented as searchable but <c>linkedin_url</c>.</summary>
    static readonly string[] SearchFields =
        ["email", "first_name", "last_name", "company", "website", "linkedin_url", "industry", "title", "city", "state", "country"];
    const string UndocumentedSearchField = "linkedin_url";

    readonly object gate = new();
    readonly string apiKey;
    readonly TimeProvider time;
    readonly SemaphoreSlim slot = new(1, 1);
    readonly List<Batch> batches = [];
    readonly List<Prospect> prospects = [];
    readonly Dictionary<string, LeadConversion> leadOutcomes = new(StringComparer.Ordinal);
    readonly Dictionary<string, bool> prospectOutcomes = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, int> leadSubmissions = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> prospectSubmissions = new(StringComparer.OrdinalIgnoreCase);
    (int Count, int Status) failSubmits;
    readonly Dictionary<string, int> refusedStatusQueries = new(StringComparer.OrdinalIgnoreCase);
    int dropConnections;
    (string Status, int EnqueueCount)? forcedSubmit;
    int occupants, inFlight, nextProspectId;
    int leadSubmitCalls, prospectSubmitCalls, batchesCreated, leadsQueued, prospectsQueued, largestBatch;
    int listCalls, getCalls, statusQueryCalls, prospectSearchCalls, maxConcurrent, dropped;
    decimal creditsCharged;

    public WoodpeckerSimulator(string apiKey, TimeProvider time)
    {
        this.apiKey = apiKey;
        this.time = time;
        Settings = new WoodpeckerSettings(gate);
    }

    public string ApiKey => apiKey;
    public WoodpeckerSettings Settings { get; }

    /// <summary>The balance after everything due by now has been processed and charged.</summary>
    public decimal Credits
    {
        get
        {
            lock (gate)
            {
                Advance();
                return Settings.Credits;
            }
        }
    }

    public bool IsAuthorized(string? key) => key == apiKey;

    /// <summary>What Lead Finder makes of the lead with this uid (default: <see cref="WoodpeckerSettings.DefaultLeadOutcome"/>).</summary>
    public void SetLeadOutcome(string uid, LeadConversion outcome)
    {
        lock (gate) leadOutcomes[uid] = outcome;
    }

    /// <summary>Whether enriching this existing prospect finds data (default true). Unknown emails are never enriched.</summary>
    public void SetProspectEnrichment(string email, bool enriched)
    {
        lock (gate) prospectOutcomes[email] = enriched;
    }

    /// <summary>Seeds the prospect database (visible at once). Updates the record when the email exists.</summary>
    public int AddProspect(string email, string? firstName = null, string? lastName = null, string? company = null,
        string? website = null, string? linkedinUrl = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(email);
        lock (gate)
            return Save(email, firstName, lastName, company, website, linkedinUrl, null, null, time.GetUtcNow()).Prospect.Id;
    }

    /// <summary>Deletes a prospect record (as the app or v1 <c>DELETE /prospects</c> would); false when there is none with this email.</summary>
    public bool RemoveProspect(string email)
    {
        lock (gate)
            return prospects.RemoveAll(p => p.Email.Equals(email.Trim(), StringComparison.OrdinalIgnoreCase)) > 0;
    }

    /// <summary>The next <paramref name="count"/> submits (lead or prospect) answer <paramref name="statusCode"/> with a v2 body and create nothing.</summary>
    public void FailNextSubmits(int count, int statusCode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (gate) failSubmits = (count, statusCode);
    }

    /// <summary>
    /// Every status query that asks about <paramref name="email"/> answers <paramref name="statusCode"/> with a v2 body (as
    /// Woodpecker might refuse an address it will not take), until <see cref="Reset"/>; a <paramref name="statusCode"/>
    /// of 0 lifts it.
    /// </summary>
    public void FailStatusQueriesFor(string email, int statusCode = 400)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(email);
        lock (gate)
        {
            if (statusCode == 0)
                refusedStatusQueries.Remove(email.Trim());
            else
                refusedStatusQueries[email.Trim()] = statusCode;
        }
    }

    /// <summary>The next <paramref name="count"/> accepted submits (lead or prospect) create and queue their batch, then cut the connection instead of answering.</summary>
    public void DropConnectionAfterAcceptNext(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (gate) dropConnections = count;
    }

    /// <summary>
    /// The next valid submit answers <paramref name="status"/> whatever the credits, enqueueing only the first
    /// <paramref name="enqueueCount"/> eligible items (uuid null when that is 0).
    /// </summary>
    public void ForceNextSubmit(string status, int enqueueCount)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(status);
        ArgumentOutOfRangeException.ThrowIfNegative(enqueueCount);
        lock (gate) forcedSubmit = (status, enqueueCount);
    }

    public WoodpeckerCounters Counters
    {
        get
        {
            lock (gate)
            {
                Advance();
                return new WoodpeckerCounters(leadSubmitCalls, prospectSubmitCalls, batchesCreated, leadsQueued, prospectsQueued,
                    largestBatch, creditsCharged, listCalls, getCalls, statusQueryCalls, prospectSearchCalls, maxConcurrent, dropped,
                    new Dictionary<string, int>(leadSubmissions), new Dictionary<string, int>(prospectSubmissions, StringComparer.OrdinalIgnoreCase));
            }
        }
    }

    public IReadOnlyList<WoodpeckerBatchSnapshot> Batches
    {
        get
        {
            lock (gate)
            {
                Advance();
                return batches.Select(b => new WoodpeckerBatchSnapshot(b.Uuid, b.Kind, b.Created,
                    b.Items.Select(i => new WoodpeckerItemSnapshot(i.Uid, i.Email, StatusOf(i), i.Result, i.DueAt)).ToList())).ToList();
            }
        }
    }

    /// <summary>The whole prospect database, including records not yet visible to the v1 search.</summary>
    public IReadOnlyList<WoodpeckerProspectSnapshot> Prospects
    {
        get
        {
            lock (gate)
            {
                Advance();
                return prospects.Select(p => new WoodpeckerProspectSnapshot(p.Id, p.Email, p.FirstName, p.LastName, p.Company,
                    p.Website, p.LinkedinUrl, p.VisibleAt)).ToList();
            }
        }
    }

    public void Reset()
    {
        lock (gate)
        {
            Settings.RestoreDefaults();
            batches.Clear();
            prospects.Clear();
            leadOutcomes.Clear();
            prospectOutcomes.Clear();
            leadSubmissions.Clear();
            prospectSubmissions.Clear();
            failSubmits = default;
            refusedStatusQueries.Clear();
            dropConnections = 0;
            forcedSubmit = null;
            nextProspectId = 0;
            leadSubmitCalls = prospectSubmitCalls = batchesCreated = leadsQueued = prospectsQueued = largestBatch = 0;
            listCalls = getCalls = statusQueryCalls = prospectSearchCalls = dropped = 0;
            maxConcurrent = inFlight;
            creditsCharged = 0;
        }
    }

    // ---- the per-key request slot (providers.md §1.2) ----

    /// <summary>
    /// Admits one /rest request: returns a lease to dispose once it is answered, or null when the request must be
    /// dropped (queue full, or it waited longer than <see cref="WoodpeckerSettings.QueueWait"/>). Counts the
    /// request as in flight until the lease is disposed, or at once when it is dropped.
    /// </summary>
    public async Task<IAsyncDisposable?> EnterAsync(CancellationToken ct)
    {
        TimeSpan wait, work;
        lock (gate)
        {
            inFlight++;
            maxConcurrent = Math.Max(maxConcurrent, inFlight);
            // One being processed plus MaxQueued waiting; any further request is dropped immediately.
            if (occupants >= 1 + Settings.MaxQueued)
            {
                inFlight--;
                dropped++;
                return null;
            }
            occupants++;
            wait = Settings.QueueWait;
            work = Settings.RequestProcessingTime;
        }

        var entered = false;
        try
        {
            entered = await slot.WaitAsync(wait, ct);
        }
        finally
        {
            if (!entered)
                lock (gate)
                {
                    occupants--;
                    inFlight--;
                    if (!ct.IsCancellationRequested)
                        dropped++;
                }
        }
        if (!entered)
            return null;
        var lease = new Lease(this);
        if (work > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(work, time, ct);
            }
            catch
            {
                await lease.DisposeAsync();
                throw;
            }
        }
        return lease;
    }

    sealed class Lease(WoodpeckerSimulator owner) : IAsyncDisposable
    {
        int disposed;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                lock (owner.gate)
                {
                    owner.occupants--;
                    owner.inFlight--;
                }
                owner.slot.Release();
            }
            return ValueTask.CompletedTask;
        }
    }

    // ---- v2 Lead Finder ----

    /// <summary>POST /rest/v2/lead_finder/leads/enrichments.</summary>
    public WoodpeckerAnswer SubmitLeads(JsonNode? body)
    {
        lock (gate)
        {
            leadSubmitCalls++;
            if (TakeFailure() is { } failure)
                return failure;
            if (body is not JsonObject request || request["leads"] is not JsonArray array || array.Count == 0)
                return BadRequest("leads must be a non-empty array.");
            if (array.Count > MaxItemsPerBatch)
                return BadRequest($"You can enrich up to {MaxItemsPerBatch} leads in one request; got {array.Count}.");
            if (request["target_campaign_ids"] is { } campaigns &&
                (campaigns is not JsonArray ids || ids.Any(id => id is not JsonValue v || !v.TryGetValue<int>(out _))))
                return BadRequest("target_campaign_ids must be an array of integers.");

            var leads = new List<LeadInput>();
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonObject lead)
                    return BadRequest($"leads[{i}] must be an object.");
                var uid = Text(lead, "uid");
                if (uid is null)
                    return BadRequest($"leads[{i}].uid is required.");
                leads.Add(new LeadInput(uid, Text(lead, "full_name"), Text(lead, "first_name"), Text(lead, "last_name"),
                    Text(lead, "linkedin_url"), Text(lead, "company_name"), Text(lead, "company_website"), Text(lead, "industry"),
                    Text(lead, "job_title"), Text(lead, "city"), Text(lead, "state"), Text(lead, "country")));
            }

            Advance();
            var pending = batches.Where(b => b.Kind == WoodpeckerBatchKind.Lead)
                .SelectMany(b => b.Items).Where(i => !i.Processed).Select(i => i.Uid!).ToHashSet(StringComparer.Ordinal);
            // A uid already pending (or twice in this request) is not enqueued again.
            var eligible = leads.Where(l => pending.Add(l.Uid)).ToList();
            var (uuid, count, status) = Enqueue(WoodpeckerBatchKind.Lead, leads.Count, eligible.Count, taken =>
                eligible.Take(taken).Select(l => new Item { Uid = l.Uid, Lead = l }));
            return new WoodpeckerAnswer(200, new JsonObject { ["uuid"] = uuid, ["leads_count"] = count, ["status"] = status },
                DropConnection: TakeDrop());
        }
    }

    /// <summary>POST /rest/v2/lead_finder/prospects/enrichments.</summary>
    public WoodpeckerAnswer SubmitProspects(JsonNode? body)
    {
        lock (gate)
        {
            prospectSubmitCalls++;
            if (TakeFailure() is { } failure)
                return failure;
            if (body is not JsonObject request || request["prospects"] is not JsonArray array || array.Count == 0)
                return BadRequest("prospects must be a non-empty array.");
            if (array.Count > MaxItemsPerBatch)
                return BadRequest($"You can enrich up to {MaxItemsPerBatch} prospects in one request; got {array.Count}.");
            var emails = new List<string>();
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonObject prospect)
                    return BadRequest($"prospects[{i}] must be an object.");
                var email = Text(prospect, "email");
                if (email is null)
                    return BadRequest($"prospects[{i}].email is required.");
                if (!email.Contains('@'))
                    return BadRequest($"prospects[{i}].email is not a valid email address.");
                emails.Add(email.Trim());
            }

            Advance();
            var pending = batches.Where(b => b.Kind == WoodpeckerBatchKind.Prospect)
                .SelectMany(b => b.Items).Where(i => !i.Processed).Select(i => i.Email!).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var eligible = emails.Where(pending.Add).ToList();
            var (uuid, count, status) = Enqueue(WoodpeckerBatchKind.Prospect, emails.Count, eligible.Count, taken =>
                eligible.Take(taken).Select(e => new Item { Email = e }));
            return new WoodpeckerAnswer(200, new JsonObject { ["uuid"] = uuid, ["prospects_count"] = count, ["status"] = status },
                DropConnection: TakeDrop());
        }
    }

    /// <summary>GET /rest/v2/lead_finder/leads/enrichments[?created_after=YYYY-MM-DD].</summary>
    public WoodpeckerAnswer ListLeadEnrichments(string? createdAfter)
    {
        lock (gate)
        {
            listCalls++;
            DateTimeOffset cutoff;
            bool inclusive;
            if (createdAfter is null)
            {
                cutoff = time.GetUtcNow() - Settings.ListWindow;
                inclusive = false;
            }
            else if (DateOnly.TryParseExact(createdAfter, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                // Either every batch from the start of that day in UTC, or only those after the day has ended in the account's zone.
                cutoff = Settings.CreatedAfterExcludesTheDay
                    ? new DateTimeOffset(date.AddDays(1).ToDateTime(TimeOnly.MinValue), Settings.AccountUtcOffset)
                    : new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                inclusive = true;
            }
            else
                return BadRequest("Value of created_after is incorrect.");

            Advance();
            var listed = batches
                .Where(b => b.Kind == WoodpeckerBatchKind.Lead && (inclusive ? b.Created >= cutoff : b.Created > cutoff))
                .OrderBy(b => b.Created)
                .Select(b => (JsonNode)LeadBatchJson(b));
            return new WoodpeckerAnswer(200, new JsonObject { ["lead_enrichments"] = new JsonArray(listed.ToArray()) });
        }
    }

    /// <summary>GET /rest/v2/lead_finder/leads/enrichments/{uuid}.</summary>
    public WoodpeckerAnswer GetLeadEnrichment(string uuid)
    {
        lock (gate)
        {
            getCalls++;
            Advance();
            var batch = batches.FirstOrDefault(b => b.Kind == WoodpeckerBatchKind.Lead && b.Uuid.Equals(uuid, StringComparison.OrdinalIgnoreCase));
            if (batch is null)
                return Error(404, "Requested resource does not exist");
            var json = LeadBatchJson(batch);
            return new WoodpeckerAnswer(200, Settings.WrapGetByUuid ? new JsonObject { ["lead_enrichment"] = json } : json);
        }
    }

    /// <summary>GET /rest/v2/lead_finder/prospects/enrichments/{uuid} (response undocumented: the status-query shape, restricted to the batch).</summary>
    public WoodpeckerAnswer GetProspectEnrichment(string uuid)
    {
        lock (gate)
        {
            getCalls++;
            Advance();
            var batch = batches.FirstOrDefault(b => b.Kind == WoodpeckerBatchKind.Prospect && b.Uuid.Equals(uuid, StringComparison.OrdinalIgnoreCase));
            if (batch is null)
                return Error(404, "Requested resource does not exist");
            return new WoodpeckerAnswer(200, new JsonObject
            {
                ["prospect_enrichments"] = new JsonArray(batch.Items.Select(i => (JsonNode)ProspectStatusJson(batch, i)).ToArray()),
            });
        }
    }

    /// <summary>POST /rest/v2/lead_finder/prospects/enrichments/statuses/query.</summary>
    public WoodpeckerAnswer QueryProspectStatuses(JsonNode? body)
    {
        lock (gate)
        {
            statusQueryCalls++;
            HashSet<string>? emails = null;
            if (body is not null)
            {
                if (body is not JsonObject request)
                    return BadRequest("The request body must be a JSON object.");
                if (request["emails"] is { } node)
                {
                    if (node is not JsonArray array || array.Any(e => e is not JsonValue v || !v.TryGetValue<string>(out _)))
                        return BadRequest("emails must be an array of strings.");
                    emails = array.Select(e => e!.GetValue<string>().Trim()).ToHashSet(StringComparer.OrdinalIgnoreCase);
                }
            }
            var refused = emails?.Select(e => refusedStatusQueries.GetValueOrDefault(e)).FirstOrDefault(status => status != 0) ?? 0;
            if (refused != 0)
                return Failure(refused);

            Advance();
            var cutoff = time.GetUtcNow() - Settings.ListWindow;
            var windowed = emails is null || Settings.StatusQueryWindowAppliesToEmails;
            var listed = batches
                .Where(b => b.Kind == WoodpeckerBatchKind.Prospect && (!windowed || b.Created > cutoff))
                .OrderBy(b => b.Created)
                .SelectMany(b => b.Items.Where(i => emails is null || emails.Contains(i.Email!)).Select(i => (JsonNode)ProspectStatusJson(b, i)));
            return new WoodpeckerAnswer(200, new JsonObject { ["prospect_enrichments"] = new JsonArray(listed.ToArray()) });
        }
    }

    // ---- v1 legacy prospects ----

    /// <summary>
    /// GET /rest/v1/prospects: only <c>search</c>, <c>page</c> and <c>per_page</c> are read — any other parameter,
    /// notably a bare <c>email=</c>, is ignored, so the whole database comes back (the documented gotcha).
    /// </summary>
    public WoodpeckerAnswer SearchProspects(string? search, string? page, string? perPage, string? sort = null)
    {
        lock (gate)
        {
            prospectSearchCalls++;
            var pageNumber = 1;
            var size = DefaultPerPage;
            if (page is not null && (!int.TryParse(page, NumberStyles.None, CultureInfo.InvariantCulture, out pageNumber) || pageNumber < 1))
                return V1Error("E_WRONG_PARAM", "Invalid value of page.");
            if (perPage is not null && (!int.TryParse(perPage, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1))
                return V1Error("E_WRONG_PARAM", "Invalid value of per_page.");
            size = Math.Min(size, MaxPerPage);
            // sort: "+field" / "-field" (a bare field sorts ascending); id and updated are supported here, unless the
            // list is set to ignore it (then: id order, whatever was asked).
            var descending = sort?.StartsWith('-') == true;
            var sortField = sort?.TrimStart('+', '-', ' ') is { Length: > 0 } named ? named.ToLowerInvariant() : "id";
            if (sortField is not ("id" or "updated"))
                return V1Error("E_WRONG_PARAM", $"Unsupported sort field '{sortField}'.");
            if (!Settings.ProspectListHonoursSort)
                (sortField, descending) = ("id", false);

            var criteria = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            if (!string.IsNullOrWhiteSpace(search))
            {
                foreach (var term in search.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var eq = term.IndexOf('=');
                    if (eq <= 0)
                        return V1Error("E_WRONG_PARAM", $"Invalid search term '{term}'.");
                    var field = term[..eq].Trim().ToLowerInvariant();
                    if (!SearchFields.Contains(field) || (field == UndocumentedSearchField && !Settings.LinkedInSearchable))
                        return V1Error("E_WRONG_PARAM", $"Unknown search field '{field}'.");
                    if (!criteria.TryGetValue(field, out var values))
                        criteria[field] = values = [];
                    values.Add(term[(eq + 1)..].Trim());
                }
            }

            Advance();
            var now = time.GetUtcNow();
            // Different fields AND, the same field OR.
            var matches = prospects
                .Where(p => p.VisibleAt <= now)
                .Where(p => criteria.All(c => c.Value.Any(value => Matches(p, c.Key, value))))
                .OrderBy(p => sortField == "updated" ? p.Updated.UtcTicks : p.Id)
                .ThenBy(p => p.Id)
                .ToList();
            if (descending)
                matches.Reverse();
            var shown = matches.Skip((int)Math.Min(int.MaxValue, (long)(pageNumber - 1) * size)).Take(size).ToList();
            if (shown.Count == 0)
                return new WoodpeckerAnswer(204, null);
            return new WoodpeckerAnswer(200, new JsonArray(shown.Select(p => (JsonNode)p.ToV1Json(ShownV1(p.Updated))).ToArray()),
                new Dictionary<string, string> { ["X-Total-Count"] = matches.Count.ToString(CultureInfo.InvariantCulture) });
        }
    }

    static bool Matches(Prospect p, string field, string value)
    {
        if (field == "email" && value.Contains('@'))
            return p.Email.Equals(value, StringComparison.OrdinalIgnoreCase);
        var actual = p.Field(field);
        return actual is not null && actual.Contains(value, StringComparison.OrdinalIgnoreCase);
    }

    // ---- shared machinery ----

    /// <summary>
    /// Decides how many of the eligible items go into a new batch, creates it, and says what to answer. Under the lock.
    /// </summary>
    (string? Uuid, int Count, string Status) Enqueue(WoodpeckerBatchKind kind, int submitted, int eligible, Func<int, IEnumerable<Item>> take)
    {
        int count;
        string status;
        if (forcedSubmit is { } forced)
        {
            forcedSubmit = null;
            count = Math.Min(forced.EnqueueCount, eligible);
            status = forced.Status;
        }
        else if (eligible == 0)
        {
            return (null, 0, "NOT_ENQUEUED");
        }
        else
        {
            // Every pending item holds back the price of a found email.
            var reserved = CreditsPerEmail * batches.SelectMany(b => b.Items).Count(i => !i.Processed);
            var available = Settings.Credits - reserved;
            var affordable = available <= 0 ? 0 : (int)Math.Min(int.MaxValue, Math.Floor(available / CreditsPerEmail));
            count = Math.Min(eligible, affordable);
            status = count == 0 ? "CREDITS_EXHAUSTED"
                : count < eligible ? Settings.CreditsExhaustedWithPartialBatch ? "CREDITS_EXHAUSTED" : "PARTIALLY_ENQUEUED"
                : count < submitted && !Settings.AlreadyPendingLeavesBatchEnqueued ? "PARTIALLY_ENQUEUED"
                : "ENQUEUED";
        }
        if (count == 0)
            return (null, 0, status);

        var created = time.GetUtcNow();
        var delay = Settings.ProcessingDelay;
        var batch = new Batch(Guid.NewGuid().ToString(), kind, created);
        foreach (var item in take(count))
        {
            // Spread between 1/4 and 1 × the processing delay.
            item.DueAt = created + delay * (1 + batch.Items.Count % 4) / 4;
            batch.Items.Add(item);
            if (kind == WoodpeckerBatchKind.Lead)
                leadSubmissions[item.Uid!] = leadSubmissions.GetValueOrDefault(item.Uid!) + 1;
            else
                prospectSubmissions[item.Email!] = prospectSubmissions.GetValueOrDefault(item.Email!) + 1;
        }
        batches.Add(batch);
        batchesCreated++;
        if (kind == WoodpeckerBatchKind.Lead)
            leadsQueued += count;
        else
            prospectsQueued += count;
        largestBatch = Math.Max(largestBatch, count);
        return (batch.Uuid, count, status);
    }

    /// <summary>Processes every item due by now, once, in the order they fell due. Under the lock.</summary>
    void Advance()
    {
        if (Settings.HoldProcessing)
            return;
        var now = time.GetUtcNow();
        var due = batches.SelectMany(b => b.Items).Where(i => !i.Processed && i.DueAt <= now).OrderBy(i => i.DueAt).ToList();
        foreach (var item in due)
        {
            item.Processed = true;
            if (item.Lead is { } lead)
            {
                var outcome = leadOutcomes.TryGetValue(lead.Uid, out var o) ? o
                    : Settings.Population is { } population ? (population.Finds("woodpecker", lead.Uid, "email") ? LeadConversion.Converted : LeadConversion.NotConverted)
                    : Settings.DefaultLeadOutcome;
                if (outcome == LeadConversion.Converted)
                {
                    Convert(lead, item.DueAt);
                    Charge();
                    item.Result = "CONVERTED_TO_PROSPECT";
                }
                else
                    item.Result = outcome == LeadConversion.Unrecognized ? UnrecognizedResult : "NOT_CONVERTED_TO_PROSPECT";
            }
            else
            {
                var exists = prospects.Any(p => p.Email.Equals(item.Email, StringComparison.OrdinalIgnoreCase));
                var enriched = exists && prospectOutcomes.GetValueOrDefault(item.Email!, true);
                if (enriched)
                    Charge();
                item.Result = enriched ? "PROCESSED_ENRICHED" : exists ? "PROCESSED_NOT_ENRICHED" : Settings.NotAProspectStatus;
            }
        }
    }

    void Charge()
    {
        Settings.Credits -= CreditsPerEmail;
        creditsCharged += CreditsPerEmail;
    }

    /// <summary>A converted lead becomes a prospect with an email, visible to the v1 search after the visibility delay.</summary>
    void Convert(LeadInput lead, DateTimeOffset at)
    {
        var (first, last) = lead.Names();
        var website = lead.Website();
        var email = $"{Slug(first, "-")}.{Slug(last, "-")}@{website}";
        var linkedinUrl = Settings.ConvertedProspectsKeepLinkedIn ? lead.ProspectLinkedinUrl() : null;
        var (prospect, created) = Save(email, first, last, lead.CompanyName, website, linkedinUrl, lead.Industry, lead.JobTitle, at);
        if (created)
            prospect.VisibleAt = at + Settings.ProspectVisibilityDelay;
        prospect.City = lead.City ?? prospect.City;
        prospect.State = lead.State ?? prospect.State;
        prospect.Country = lead.Country ?? prospect.Country;
    }

    (Prospect Prospect, bool Created) Save(string email, string? firstName, string? lastName, string? company, string? website, string? linkedinUrl,
        string? industry, string? title, DateTimeOffset at)
    {
        var prospect = prospects.FirstOrDefault(p => p.Email.Equals(email.Trim(), StringComparison.OrdinalIgnoreCase));
        var created = prospect is null;
        if (prospect is null)
        {
            prospect = new Prospect(++nextProspectId, email.Trim()) { VisibleAt = at };
            prospects.Add(prospect);
        }
        prospect.FirstName = firstName ?? prospect.FirstName;
        prospect.LastName = lastName ?? prospect.LastName;
        prospect.Company = company ?? prospect.Company;
        prospect.Website = website ?? prospect.Website;
        prospect.LinkedinUrl = linkedinUrl ?? prospect.LinkedinUrl;
        prospect.Industry = industry ?? prospect.Industry;
        prospect.Title = title ?? prospect.Title;
        prospect.Updated = at;
        return (prospect, created);
    }

    /// <summary>Whether this accepted submit's answer is lost on the way (see <see cref="DropConnectionAfterAcceptNext"/>).</summary>
    bool TakeDrop()
    {
        if (dropConnections <= 0)
            return false;
        dropConnections--;
        return true;
    }

    WoodpeckerAnswer? TakeFailure()
    {
        if (failSubmits.Count <= 0)
            return null;
        failSubmits.Count--;
        return Failure(failSubmits.Status);
    }

    WoodpeckerAnswer Failure(int status) =>
        Error(status, status >= 500 ? "An unexpected error has occurred. Please try again later." : "Request failed.");

    JsonObject LeadBatchJson(Batch batch) => new()
    {
        ["uuid"] = batch.Uuid,
        ["created"] = Shown(batch.Created),
        ["leads"] = new JsonArray(batch.Items.Select(i => (JsonNode)new JsonObject
        {
            ["uid"] = i.Uid,
            ["status"] = i.Processed ? "PROCESSED" : "PENDING",
            ["processing_result"] = i.Result,
        }).ToArray()),
    };

    JsonObject ProspectStatusJson(Batch batch, Item item) => new()
    {
        ["uuid"] = batch.Uuid,
        ["prospect_email"] = item.Email,
        ["created"] = Shown(batch.Created),
        ["status"] = StatusOf(item),
    };

    /// <summary>As the API shows an item: PENDING/PROCESSED for leads; for prospects the pending status until processed, then its result.</summary>
    string StatusOf(Item item) => item.Uid is not null
        ? item.Processed ? "PROCESSED" : "PENDING"
        : item.Processed ? item.Result! : Settings.ProspectPendingStatus;

    /// <summary>ISO-8601 with the account's offset (+02:00 by default, as in the docs' examples).</summary>
    string Shown(DateTimeOffset instant) =>
        instant.ToOffset(Settings.AccountUtcOffset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    /// <summary>v1 timestamps: offset without a colon, e.g. <c>2016-08-14T02:08:58+0200</c>.</summary>
    string ShownV1(DateTimeOffset instant)
    {
        var shown = Shown(instant);
        return shown.Remove(shown.Length - 3, 1);
    }

    WoodpeckerAnswer BadRequest(string details) => Error(400, details);

    /// <summary>The v2 error body: <c>{title, status, details, timestamp, extra}</c>.</summary>
    public WoodpeckerAnswer Error(int status, string details) => new(status, ErrorBody(status, details, time.GetUtcNow()));

    public static JsonObject ErrorBody(int status, string details, DateTimeOffset now) => new()
    {
        ["title"] = status switch
        {
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal server error",
            _ => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error",
        },
        ["status"] = status,
        ["details"] = details,
        // The docs: "YYYY-MM-DD HH:MM:SS UTC", e.g. "2025-03-05 17:57:00".
        ["timestamp"] = now.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        ["extra"] = null,
    };

    static WoodpeckerAnswer V1Error(string code, string message) => new(400, new JsonObject
    {
        ["status"] = new JsonObject { ["status"] = "ERROR", ["code"] = code, ["msg"] = message },
    });

    static string? Text(JsonObject node, string name) =>
        node[name] is JsonValue v && v.TryGetValue<string>(out var s) && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null;

    internal static string Slug(string text, string space) =>
        string.Concat(text.Trim().ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c.ToString() : c is ' ' or '-' ? space : ""));

    sealed class Batch(string uuid, WoodpeckerBatchKind kind, DateTimeOffset created)
    {
        public string Uuid { get; } = uuid;
        public WoodpeckerBatchKind Kind { get; } = kind;
        public DateTimeOffset Created { get; } = created;
        public List<Item> Items { get; } = [];
    }

    sealed class Item
    {
        public string? Uid { get; init; }
        public string? Email { get; init; }
        public LeadInput? Lead { get; init; }
        public DateTimeOffset DueAt { get; set; }
        public bool Processed { get; set; }
        /// <summary>A lead's processing_result, or a prospect's final status.</summary>
        public string? Result { get; set; }
    }

    sealed record LeadInput(string Uid, string? FullName, string? FirstName, string? LastName, string? LinkedinUrl,
        string? CompanyName, string? CompanyWebsite, string? Industry, string? JobTitle, string? City, string? State, string? Country)
    {
        /// <summary>The profile slug of <c>linkedin.com/in/&lt;slug&gt;</c>, with or without scheme/www.</summary>
        public string? LinkedinSlug
        {
            get
            {
                if (LinkedinUrl is null)
                    return null;
                var at = LinkedinUrl.IndexOf("/in/", StringComparison.OrdinalIgnoreCase);
                var rest = at < 0 ? null : LinkedinUrl[(at + 4)..].Split('/', '?', '#')[0];
                return string.IsNullOrWhiteSpace(rest) ? null : rest.ToLowerInvariant();
            }
        }

        /// <summary>Leads carry <c>linkedin.com/in/...</c>; prospects carry <c>https://www.linkedin.com/in/...</c>.</summary>
        public string? ProspectLinkedinUrl() => LinkedinSlug is { } slug ? $"https://www.linkedin.com/in/{slug}" : null;

        public (string First, string Last) Names()
        {
            if (FirstName is not null && LastName is not null)
                return (FirstName, LastName);
            if (FullName?.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var f, var l])
                return (FirstName ?? f, LastName ?? l);
            // Only the profile: take the name from its slug (".../in/jane-doe-1234" → Jane, Doe).
            var parts = (LinkedinSlug ?? Uid).Split('-', StringSplitOptions.RemoveEmptyEntries);
            var first = FirstName ?? (parts.Length > 0 ? Capitalized(parts[0]) : "Unknown");
            var last = LastName ?? (parts.Length > 1 ? Capitalized(parts[1]) : "Lead");
            return (first, last);
        }

        public string Website()
        {
            if (CompanyWebsite is not null)
            {
                var host = CompanyWebsite.Trim().ToLowerInvariant();
                var scheme = host.IndexOf("://", StringComparison.Ordinal);
                if (scheme >= 0)
                    host = host[(scheme + 3)..];
                host = host.Split('/', '?', '#')[0];
                if (host.StartsWith("www.", StringComparison.Ordinal))
                    host = host[4..];
                if (host.Length > 0)
                    return host;
            }
            return (CompanyName is null ? "unknown-company" : Slug(CompanyName, "")) + ".example";
        }

        static string Capitalized(string word) => word.Length == 0 ? word : char.ToUpperInvariant(word[0]) + word[1..];
    }

    sealed class Prospect(int id, string email)
    {
        public int Id { get; } = id;
        public string Email { get; } = email;
        public string? FirstName { get; set; }
        public string? LastName { get; set; }
        public string? Company { get; set; }
        public string? Website { get; set; }
        public string? LinkedinUrl { get; set; }
        public string? Industry { get; set; }
        public string? Title { get; set; }
        public string? City { get; set; }
        public string? State { get; set; }
        public string? Country { get; set; }
        public DateTimeOffset Updated { get; set; }
        public DateTimeOffset VisibleAt { get; set; }

        public string? Field(string name) => name switch
        {
            "email" => Email,
            "first_name" => FirstName,
            "last_name" => LastName,
            "company" => Company,
            "website" => Website,
            "linkedin_url" => LinkedinUrl,
            "industry" => Industry,
            "title" => Title,
            "city" => City,
            "state" => State,
            "country" => Country,
            _ => null,
        };

        /// <summary>The v1 prospect object; empty fields are <c>""</c> as in the vendor's payloads.</summary>
        public JsonObject ToV1Json(string updated) => new()
        {
            ["id"] = Id,
            ["email"] = Email,
            ["first_name"] = FirstName ?? "",
            ["last_name"] = LastName ?? "",
            ["company"] = Company ?? "",
            ["website"] = Website ?? "",
            ["linkedin_url"] = LinkedinUrl ?? "",
            ["industry"] = Industry ?? "",
            ["title"] = Title ?? "",
            ["city"] = City ?? "",
            ["state"] = State ?? "",
            ["country"] = Country ?? "",
            ["status"] = "ACTIVE",
            ["updated"] = updated,
        };
    }
}
