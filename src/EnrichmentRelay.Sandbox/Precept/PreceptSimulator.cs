using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>
/// A faithful Precept AI (providers.md §2): validation, credits and the credit-capped 202, the job
/// lifecycle, per-lead outcomes, retried and duplicated webhooks, field-name drift, and faults on demand.
/// Thread-safe: every state change happens under one lock.
/// </summary>
public sealed class PreceptSimulator(string apiKey, TimeProvider time) : IDisposable
{
    public const int MaxLeadsPerJob = 1000;
    const int MaxCustomDataKeys = 5;
    const int MaxCustomDataValueLength = 100;

    readonly object gate = new();
    readonly HttpClient webhooks = new() { Timeout = TimeSpan.FromSeconds(5) };
    readonly CancellationTokenSource stopping = new();
    readonly Dictionary<string, Job> jobs = [];
    readonly Dictionary<string, LeadOutcome> outcomes = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, int> leadSubmissions = [];
    (int Count, int Status) failSubmits;
    int dropConnections;
    int failJobs;
    int submitCalls, jobsCreated, leadsAccepted, leadsCapped, statusCalls, listCalls, webhookAttempts, webhookDeliveries, largestJob;
    decimal creditsCharged;

    public string ApiKey => apiKey;
    public PreceptSettings Settings { get; private set; } = new();

    public void SetOutcome(string key, LeadOutcome outcome)
    {
        lock (gate) outcomes[key] = outcome;
    }

    /// <summary>The next <paramref name="count"/> submits answer <paramref name="statusCode"/> and create nothing.</summary>
    public void FailNextSubmits(int count, int statusCode)
    {
        lock (gate) failSubmits = (count, statusCode);
    }

    /// <summary>The next submits create (and charge) the job, then cut the connection instead of answering.</summary>
    public void DropConnectionAfterAcceptNext(int count)
    {
        lock (gate) dropConnections = count;
    }

    /// <summary>The next jobs end <c>failed</c>.</summary>
    public void FailNextJobs(int count)
    {
        lock (gate) failJobs = count;
    }

    public PreceptCounters Counters
    {
        get
        {
            lock (gate)
                return new PreceptCounters(submitCalls, jobsCreated, leadsAccepted, leadsCapped, creditsCharged, statusCalls,
                    listCalls, webhookAttempts, webhookDeliveries, largestJob, new Dictionary<string, int>(leadSubmissions));
        }
    }

    public IReadOnlyList<PreceptJobSnapshot> Jobs
    {
        get
        {
            lock (gate)
                return jobs.Values.OrderBy(j => j.CreatedAt).Select(j => j.Snapshot()).ToList();
        }
    }

    public void Reset()
    {
        lock (gate)
        {
            Settings = new PreceptSettings();
            jobs.Clear();
            outcomes.Clear();
            leadSubmissions.Clear();
            failSubmits = default;
            dropConnections = failJobs = 0;
            submitCalls = jobsCreated = leadsAccepted = leadsCapped = statusCalls = listCalls = webhookAttempts = webhookDeliveries = largestJob = 0;
            creditsCharged = 0;
        }
    }

    public bool IsAuthorized(string? authorization) => authorization == $"Bearer {apiKey}";

    /// <summary>POST /v1/leads/enrich, minus HTTP: what to answer, and whether to cut the connection instead.</summary>
    public SubmitAnswer Submit(JsonNode? body)
    {
        lock (gate)
        {
            submitCalls++;
            if (failSubmits.Count > 0)
            {
                failSubmits.Count--;
                return new SubmitAnswer(failSubmits.Status, Error("Internal error"));
            }
            if (body is not JsonObject request || request["leads"] is not JsonArray leadArray || leadArray.Count == 0)
                return new SubmitAnswer(400, Error("'leads' must be a non-empty array."));
            if (leadArray.Count > MaxLeadsPerJob)
                return new SubmitAnswer(400, Error($"At most {MaxLeadsPerJob} leads per request; got {leadArray.Count}."));

            var leads = new List<LeadInput>();
            for (var i = 0; i < leadArray.Count; i++)
            {
                var (lead, problem) = LeadInput.Read(leadArray[i], i);
                if (problem is not null)
                    return new SubmitAnswer(400, Error(problem));
                leads.Add(lead!);
            }

            if (Settings.Credits <= 0)
                return new SubmitAnswer(402, Error("Not enough credits"));
            // Precept reserves the most a lead can cost and processes as many leads, in order, as fit.
            var finalLimit = 0;
            var reserved = 0m;
            foreach (var lead in leads)
            {
                if (reserved + lead.MaxCost > Settings.Credits)
                    break;
                reserved += lead.MaxCost;
                finalLimit++;
            }
            if (finalLimit == 0)
                return new SubmitAnswer(402, Error("Not enough credits"));

            var job = new Job(Guid.NewGuid().ToString(), (string?)request["name"], WebhookUrl(request),
                request["streamingResults"]?.GetValue<bool>() == true, leads.Take(finalLimit).ToList(), time.GetUtcNow());
            if (failJobs > 0)
            {
                failJobs--;
                job.WillFail = true;
            }
            jobs[job.Id] = job;
            jobsCreated++;
            leadsAccepted += job.Leads.Count;
            leadsCapped += leads.Count - finalLimit;
            largestJob = Math.Max(largestJob, job.Leads.Count);
            foreach (var lead in job.Leads)
                leadSubmissions[lead.Identity] = leadSubmissions.GetValueOrDefault(lead.Identity) + 1;
            _ = Task.Run(() => ProcessAsync(job));

            var answer = new JsonObject
            {
                ["message"] = "Enrichment job successfully created and batches are being processed.",
                ["enrichment_id"] = job.Id,
            };
            if (finalLimit < leads.Count)
            {
                answer["finalLimit"] = finalLimit;
                answer[Settings.UnprocessedFieldName] = new JsonArray(leads.Skip(finalLimit).Select(l => l.Raw.DeepClone()).ToArray());
            }
            var drop = dropConnections > 0;
            if (drop)
                dropConnections--;
            return new SubmitAnswer(202, answer, DropConnection: drop);
        }
    }

    public JsonObject? GetJob(string id)
    {
        lock (gate)
        {
            statusCalls++;
            return jobs.TryGetValue(id, out var job) ? job.ToJson() : null;
        }
    }

    public JsonObject ListJobs(int limit, string? name)
    {
        lock (gate)
        {
            listCalls++;
            var listed = jobs.Values
                .Where(j => name is null || j.Name == name)
                .OrderByDescending(j => j.CreatedAt)
                .Take(Math.Clamp(limit, 1, 100))
                .Select(j => (JsonNode)new JsonObject
                {
                    ["enrichment_id"] = j.Id,
                    ["name"] = j.Name,
                    ["status"] = j.Status,
                    ["created_at"] = j.CreatedAt.ToString("O"),
                });
            return new JsonObject { ["jobs"] = new JsonArray(listed.ToArray()) };
        }
    }

    public decimal Credits
    {
        get { lock (gate) return Settings.Credits; }
    }

    async Task ProcessAsync(Job job)
    {
        var ct = stopping.Token;
        try
        {
            var delay = Settings.ProcessingDelay;
            if (Settings.ProcessingJitter > TimeSpan.Zero)
                delay += TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * Settings.ProcessingJitter.Ticks));
            lock (gate) job.Status = "processing";

            if (job.Streaming && !job.WillFail)
            {
                // One POST per lead as each finishes.
                var step = delay / Math.Max(job.Leads.Count, 1);
                foreach (var lead in job.Leads)
                {
                    await Task.Delay(step, time, ct);
                    JsonObject? item;
                    lock (gate) item = Enrich(job, lead);
                    if (item is not null)
                        await DeliverAsync(job, new JsonObject { ["enrichment_id"] = job.Id, ["results"] = new JsonArray(item.DeepClone()) }, ct);
                }
                lock (gate) Finish(job);
                return;
            }

            await Task.Delay(delay, time, ct);
            JsonObject callback;
            lock (gate)
            {
                if (!job.WillFail)
                    foreach (var lead in job.Leads)
                        Enrich(job, lead);
                Finish(job);
                callback = new JsonObject
                {
                    ["enrichment_id"] = job.Id,
                    ["status"] = job.Status,
                    ["results"] = new JsonArray(job.Results.Select(r => (JsonNode)r.DeepClone()).ToArray()),
                };
            }
            await DeliverAsync(job, callback, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Works one lead out, charges for it and records its result item (null when skipped). Under the lock.</summary>
    JsonObject? Enrich(Job job, LeadInput lead)
    {
        job.Completed++;
        var outcome = outcomes.TryGetValue(lead.OutcomeKey, out var o) ? o
            : lead.LastName is not null && outcomes.TryGetValue(lead.LastName, out o) ? o
            : Settings.DefaultOutcome;
        if (outcome == LeadOutcome.Skipped)
        {
            job.Skipped++;
            return null;
        }

        var email = lead.WantsEmail && outcome is LeadOutcome.Found or LeadOutcome.EmailOnly ? lead.Email : null;
        var phone = lead.WantsPhone && outcome is LeadOutcome.Found or LeadOutcome.PhoneOnly ? lead.Phone : null;
        var cost = 1m + (email is null ? 0 : 1) + (phone is null ? 0 : 10);
        Settings.Credits -= cost;
        creditsCharged += cost;
        job.Cost += cost;
        if (email is not null) job.EmailsFound++;
        if (phone is not null) job.PhonesFound++;

        var camel = Settings.ContactFieldNaming == ContactFieldNaming.Camel;
        var item = new JsonObject
        {
            [camel ? "linkedinUrl" : "linkedin_url"] = lead.LinkedinUrl,
            [camel ? "firstName" : "first_name"] = lead.FirstName,
            [camel ? "lastName" : "last_name"] = lead.LastName,
            [camel ? "companyName" : "company_name"] = lead.CompanyName,
            [camel ? "customData" : "custom_data"] = lead.CustomData?.DeepClone(),
            [camel ? "enrichEmail" : "enrich_email"] = email,
            [camel ? "enrichPhone" : "enrich_phone"] = phone,
        };
        if (outcome == LeadOutcome.NotFound)
        {
            item[camel ? "enrichEmail" : "enrich_email"] = null;
            item[camel ? "enrichPhone" : "enrich_phone"] = null;
            item["error"] = "Lead not found";
        }
        job.Results.Add(item);
        return item;
    }

    void Finish(Job job)
    {
        job.Status = job.WillFail ? "failed" : "completed";
        if (job.WillFail)
            job.Results.Clear();
    }

    /// <summary>POSTs a callback; on a non-2xx, an error or a timeout retries up to 3 times with exponential backoff.</summary>
    async Task DeliverAsync(Job job, JsonObject body, CancellationToken ct)
    {
        if (Settings.DropWebhooks || job.WebhookUrl is null)
            return;
        for (var attempt = 0; attempt <= 3; attempt++)
        {
            if (attempt > 0)
                await Task.Delay(Settings.WebhookRetryBaseDelay * Math.Pow(2, attempt - 1), time, ct);
            if (await PostAsync(job.WebhookUrl, body, ct))
            {
                for (var copy = 0; copy < Settings.DuplicateDeliveries; copy++)
                    await PostAsync(job.WebhookUrl, body, ct);
                return;
            }
        }
    }

    async Task<bool> PostAsync(string url, JsonObject body, CancellationToken ct)
    {
        lock (gate) webhookAttempts++;
        try
        {
            using var response = await webhooks.PostAsJsonAsync(url, body, ct);
            if (!response.IsSuccessStatusCode)
                return false;
            lock (gate) webhookDeliveries++;
            return true;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    string? WebhookUrl(JsonObject request) =>
        request["webhookUrl"] is JsonValue url && url.TryGetValue<string>(out var text) && text.Length > 0 ? text : Settings.DefaultWebhookUrl;

    static JsonObject Error(string message) => new() { ["error"] = message };

    public void Dispose()
    {
        stopping.Cancel();
        webhooks.Dispose();
    }

    public sealed record SubmitAnswer(int Status, JsonObject Body, bool DropConnection = false);

    sealed class Job(string id, string? name, string? webhookUrl, bool streaming, List<LeadInput> leads, DateTimeOffset createdAt)
    {
        public string Id { get; } = id;
        public string? Name { get; } = name;
        public string? WebhookUrl { get; } = webhookUrl;
        public bool Streaming { get; } = streaming;
        public List<LeadInput> Leads { get; } = leads;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public string Status { get; set; } = "pending";
        public bool WillFail { get; set; }
        public int Completed { get; set; }
        public int Skipped { get; set; }
        public decimal Cost { get; set; }
        public int EmailsFound { get; set; }
        public int PhonesFound { get; set; }
        public List<JsonObject> Results { get; } = [];

        bool Done => Status is "completed" or "failed";

        public JsonObject ToJson() => new()
        {
            ["enrichment_id"] = Id,
            ["name"] = Name,
            ["status"] = Status,
            ["progress"] = new JsonObject { ["completed"] = Completed, ["total"] = Leads.Count, ["skipped"] = Skipped },
            ["results"] = Done ? new JsonArray(Results.Select(r => (JsonNode)r.DeepClone()).ToArray()) : null,
            ["cost"] = new JsonObject { ["credits"] = Cost },
            ["emails_found"] = EmailsFound,
            ["phones_found"] = PhonesFound,
            ["created_at"] = CreatedAt.ToString("O"),
        };

        public PreceptJobSnapshot Snapshot() => new(Id, Name, Status, WebhookUrl, Leads.Count, Completed, Skipped, Cost,
            Done ? Results.Select(r => (JsonObject)r.DeepClone()).ToList() : null, CreatedAt);
    }

    sealed record LeadInput(JsonNode Raw, string? LinkedinUrl, string? FirstName, string? LastName, string? CompanyName,
        string? CompanyDomain, bool WantsEmail, bool WantsPhone, JsonObject? CustomData)
    {
        public decimal MaxCost => 1 + (WantsEmail ? 1 : 0) + (WantsPhone ? 10 : 0);
        public string OutcomeKey => LinkedinUrl ?? LastName ?? "";
        public string Identity => (LinkedinUrl ?? $"{FirstName} {LastName} @ {CompanyName ?? CompanyDomain}").ToLowerInvariant();

        public string Email
        {
            get
            {
                var (first, last) = Name();
                var domain = CompanyDomain ?? (CompanyName is null ? "linkedin" : Slug(CompanyName, "")) + ".example";
                return $"{first}.{last}@{domain}".ToLowerInvariant();
            }
        }

        public string Phone
        {
            get
            {
                var hash = SHA256.HashData(Encoding.UTF8.GetBytes(Identity));
                return "+1555" + (BitConverter.ToUInt32(hash) % 10_000_000).ToString("D7");
            }
        }

        (string First, string Last) Name()
        {
            if (FirstName is not null && LastName is not null)
                return (Slug(FirstName, "-"), Slug(LastName, "-"));
            // A LinkedIn-only lead: take the name from the profile slug (".../in/jane-doe").
            var slug = LinkedinUrl?.TrimEnd('/').Split('/').Last() ?? "unknown-lead";
            var parts = slug.Split('-', 2);
            return (Slug(parts[0], "-"), Slug(parts.Length > 1 ? parts[1] : "lead", "-"));
        }

        static string Slug(string text, string space) =>
            string.Concat(text.Trim().ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c.ToString() : c == ' ' ? space : ""));

        public static (LeadInput? Lead, string? Problem) Read(JsonNode? node, int index)
        {
            if (node is not JsonObject lead)
                return (null, $"leads[{index}] must be an object.");
            string? Text(string name) => lead[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
            var linkedin = Text("linkedinUrl");
            var first = Text("firstName");
            var last = Text("lastName");
            var company = Text("companyName");
            var domain = Text("companyDomain");
            if (linkedin is null && (first is null || last is null || (company is null && domain is null)))
                return (null, $"leads[{index}] needs a linkedinUrl or firstName, lastName and companyName or companyDomain.");

            var wantsEmail = true;
            var wantsPhone = true;
            if (lead["enrichType"] is JsonArray types)
            {
                var names = types.Select(t => t?.GetValue<string>()).ToList();
                if (names.Count == 0 || names.Any(n => n is not ("emails" or "phones")))
                    return (null, $"leads[{index}].enrichType may only contain \"emails\" and \"phones\".");
                wantsEmail = names.Contains("emails");
                wantsPhone = names.Contains("phones");
            }

            var custom = lead["customData"] as JsonObject;
            if (custom is not null)
            {
                if (custom.Count > MaxCustomDataKeys)
                    return (null, $"leads[{index}].customData may have at most {MaxCustomDataKeys} properties.");
                if (custom.Any(p => p.Value is not JsonValue v || !v.TryGetValue<string>(out var s) || s.Length > MaxCustomDataValueLength))
                    return (null, $"leads[{index}].customData values must be strings of at most {MaxCustomDataValueLength} characters.");
            }
            return (new LeadInput(lead.DeepClone(), linkedin, first, last, company, domain, wantsEmail, wantsPhone,
                (JsonObject?)custom?.DeepClone()), null);
        }
    }
}
