using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>
/// A faithful Precept AI (providers.md §2): validation, credits and the credit-capped 202, the job
/// lifecycle, per-lead outcomes, retried and duplicated webhooks, field-name drift, and faults on demand.
/// Thread-safe: every state change happens under one lock, which <see cref="Settings"/> shares.
/// </summary>
public sealed class PreceptSimulator : IAsyncDisposable
{
    const int WebhookRetries = 3;

    readonly string initialKey;
    string apiKey;
    readonly TimeProvider time;
    readonly object gate = new();
    readonly HttpClient webhooks = new() { Timeout = TimeSpan.FromSeconds(5) };
    readonly Dictionary<string, Job> jobs = [];
    readonly Dictionary<string, LeadOutcome> outcomes = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, int> leadSubmissions = [];
    readonly Dictionary<string, string> fieldsAsked = [];
    readonly List<Task> running = [];
    readonly HashSet<string> failingReads = [];
    readonly HashSet<string> failingLeads = new(StringComparer.OrdinalIgnoreCase);
    // Cancelled by Reset and DisposeAsync: jobs of an earlier generation stop, and change nothing after it.
    CancellationTokenSource generation = new();
    (int Count, int Status) failSubmits;
    int dropConnections;
    int failJobs;
    int failJobsAfterLeads;
    int submitCalls, jobsCreated, leadsAccepted, leadsCapped, statusCalls, listCalls, webhookAttempts, webhookDeliveries, largestJob;
    decimal creditsCharged;
    // What running jobs may still spend; a new submit can only use the balance minus this.
    decimal reserved;

    public PreceptSimulator(string apiKey, TimeProvider time)
    {
        this.apiKey = initialKey = apiKey;
        this.time = time;
        Settings = new PreceptSettings(gate);
    }

    public PreceptSettings Settings { get; }

    internal TimeProvider Time => time;

    /// <summary>
    /// Scripts the outcome of leads whose linkedinUrl, or else last name, equals <paramref name="key"/>
    /// (case-insensitive); other leads get <see cref="PreceptSettings.DefaultOutcome"/>.
    /// </summary>
    public void SetOutcome(string key, LeadOutcome outcome)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (!Enum.IsDefined(outcome))
            throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Not a defined outcome.");
        lock (gate) outcomes[key.Trim()] = outcome;
    }

    /// <summary>From now on, <c>GET /v1/jobs/{id}</c> of this job answers 500 (or, with <paramref name="fail"/> false, works again).</summary>
    public void FailReadsOf(string enrichmentId, bool fail = true)
    {
        lock (gate)
            if (fail)
                failingReads.Add(enrichmentId);
            else
                failingReads.Remove(enrichmentId);
    }

    /// <summary>Every job created from now on that holds a lead whose linkedinUrl, or else last name, is <paramref name="key"/> answers its reads with 500.</summary>
    public void FailReadsOfJobsHolding(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        lock (gate)
            failingLeads.Add(key.Trim());
    }

    internal bool ReadFails(string enrichmentId)
    {
        lock (gate)
            return failingReads.Contains(enrichmentId);
    }

    /// <summary>The account's key changes (rotated in Precept's dashboard): calls with the old one answer 401 from now on.</summary>
    public void RotateApiKey(string newKey)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(newKey);
        lock (gate) apiKey = newKey;
    }

    /// <summary>The next <paramref name="count"/> submits answer <paramref name="statusCode"/> with <c>{"error":"Internal error"}</c> and create nothing.</summary>
    public void FailNextSubmits(int count, int statusCode = 500)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        lock (gate) failSubmits = (count, statusCode);
    }

    /// <summary>The next <paramref name="count"/> accepted submits create (and charge) their job, then cut the connection instead of answering.</summary>
    public void DropConnectionAfterAcceptNext(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (gate) dropConnections = count;
    }

    /// <summary>
    /// The next <paramref name="count"/> jobs end <c>failed</c> after working (and charging for) their first
    /// <paramref name="afterLeads"/> leads, whose results the failed job still carries; by default none.
    /// </summary>
    public void FailNextJobs(int count, int afterLeads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(afterLeads);
        lock (gate) (failJobs, failJobsAfterLeads) = (count, afterLeads);
    }

    public PreceptCounters Counters
    {
        get
        {
            lock (gate)
                return new PreceptCounters(submitCalls, jobsCreated, leadsAccepted, leadsCapped, creditsCharged, statusCalls,
                    listCalls, webhookAttempts, webhookDeliveries, largestJob, new Dictionary<string, int>(leadSubmissions),
                    new Dictionary<string, string>(fieldsAsked));
        }
    }

    /// <summary>Every job, oldest first.</summary>
    public IReadOnlyList<PreceptJobSnapshot> Jobs
    {
        get
        {
            lock (gate)
                return jobs.Values.OrderBy(j => j.Sequence).Select(j => j.Snapshot()).ToList();
        }
    }

    /// <summary>Forgets jobs, outcomes, faults and counters and restores the default settings; running jobs stop where they are.</summary>
    public void Reset()
    {
        lock (gate)
        {
            generation.Cancel();
            generation = new CancellationTokenSource();
            Settings.RestoreDefaults();
            apiKey = initialKey;
            jobs.Clear();
            outcomes.Clear();
            leadSubmissions.Clear();
            fieldsAsked.Clear();
            failingReads.Clear();
            failingLeads.Clear();
            failSubmits = default;
            dropConnections = failJobs = 0;
            submitCalls = jobsCreated = leadsAccepted = leadsCapped = statusCalls = listCalls = webhookAttempts = webhookDeliveries = largestJob = 0;
            creditsCharged = reserved = 0;
        }
    }

    internal bool IsAuthorized(string? authorization)
    {
        string key;
        lock (gate) key = apiKey;
        return authorization is not null
               && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
               && authorization["Bearer ".Length..].Trim() == key;
    }

    /// <summary>POST /v1/leads/enrich, minus HTTP: what to answer, and whether to cut the connection instead.</summary>
    internal SubmitAnswer Submit(string body)
    {
        // Parsing needs no state, so it happens outside the lock.
        EnrichRequest? request = null;
        string? problem = null;
        try
        {
            request = EnrichRequest.Parse(body);
        }
        catch (PreceptBadRequest e)
        {
            problem = e.Message;
        }

        lock (gate)
        {
            submitCalls++;
            // An injected server error wins over everything the body could be blamed for.
            if (failSubmits.Count > 0)
            {
                failSubmits.Count--;
                return new SubmitAnswer(failSubmits.Status, Error("Internal error"));
            }
            if (request is null)
                return new SubmitAnswer(StatusCodes.Status400BadRequest, Error(problem!));

            // Precept processes as many leads, in order, as the credits can pay for if everything is found (§2.4).
            var available = Settings.Credits - reserved;
            var finalLimit = 0;
            var reserve = 0m;
            foreach (var lead in request.Leads)
            {
                if (reserve + lead.MaxCost > available)
                    break;
                reserve += lead.MaxCost;
                finalLimit++;
            }
            leadsCapped += request.Leads.Count - finalLimit;
            if (finalLimit == 0)
                return new SubmitAnswer(StatusCodes.Status402PaymentRequired, Error("Not enough credits"));

            var job = new Job(Guid.NewGuid().ToString(), jobsCreated, request.Name, request.WebhookUrl ?? Settings.DefaultWebhookUrl,
                request.StreamingResults, request.Leads.Take(finalLimit).ToList(), time.GetUtcNow(),
                Settings.ProcessingDelay + Jitter(Settings.ProcessingJitter))
            {
                FailAfter = TakeOne(ref failJobs) ? failJobsAfterLeads : null,
                LosesWebhooks = Settings.LoseWebhooksOfEvery > 0 && (jobsCreated + 1) % Settings.LoseWebhooksOfEvery == 0,
                Reserved = reserve,
            };
            reserved += reserve;
            jobs[job.Id] = job;
            if (job.Leads.Any(l => (l.LinkedinUrl is not null && failingLeads.Contains(l.LinkedinUrl)) || (l.LastName is not null && failingLeads.Contains(l.LastName))))
                failingReads.Add(job.Id);
            jobsCreated++;
            leadsAccepted += finalLimit;
            largestJob = Math.Max(largestJob, finalLimit);
            foreach (var lead in job.Leads)
            {
                leadSubmissions[lead.Identity] = leadSubmissions.GetValueOrDefault(lead.Identity) + 1;
                fieldsAsked[lead.Identity] = string.Join('+', new[] { lead.WantsEmail ? "email" : null, lead.WantsPhone ? "phone" : null }.OfType<string>());
            }
            running.RemoveAll(t => t.IsCompleted);
            var ct = generation.Token;
            running.Add(Task.Run(() => ProcessAsync(job, ct)));

            var answer = new JsonObject
            {
                ["message"] = "Enrichment job successfully created and batches are being processed.",
                ["enrichment_id"] = job.Id,
            };
            if (finalLimit < request.Leads.Count)
            {
                answer["finalLimit"] = finalLimit;
                answer[Settings.UnprocessedFieldName] = new JsonArray(request.Leads.Skip(finalLimit).Select(l => l.Raw.DeepClone()).ToArray());
            }
            return new SubmitAnswer(StatusCodes.Status202Accepted, answer, DropConnection: TakeOne(ref dropConnections),
                Latency: Settings.SubmitLatency);
        }
    }

    internal JsonObject? GetJob(string id)
    {
        lock (gate)
        {
            statusCalls++;
            return jobs.TryGetValue(id, out var job) ? job.ToJson(Settings.JobShowsName) : null;
        }
    }

    /// <summary>GET /v1/jobs: its shape, paging and filters are undocumented (providers.md §2.2 (c)); see <see cref="JobListShape"/>.</summary>
    internal JsonNode ListJobs(int limit, string? name, int page)
    {
        lock (gate)
        {
            listCalls++;
            var size = Math.Clamp(limit, 1, Settings.ListPageSize);
            var matching = jobs.Values
                .Where(j => !Settings.ListFiltersByName || name is null || j.Name == name)
                .OrderByDescending(j => j.Sequence)
                .ToList();
            var shape = Settings.ListShape;
            var skip = shape == JobListShape.BareArray ? 0 : (Math.Max(page, 1) - 1) * size;
            var listed = new JsonArray(matching.Skip(skip).Take(size).Select(j => (JsonNode)new JsonObject
            {
                ["enrichment_id"] = j.Id,
                ["name"] = Settings.ListShowsName ? j.Name : null,
                ["status"] = j.ShownStatus,
                ["created_at"] = j.CreatedAt.ToString("O"),
            }).ToArray());
            var more = skip + size < matching.Count;
            return shape switch
            {
                JobListShape.BareArray => listed,
                JobListShape.DataWithNextLink => new JsonObject
                {
                    ["data"] = listed,
                    ["next"] = more ? $"/v1/jobs?limit={size}&page={Math.Max(page, 1) + 1}" : null,
                },
                JobListShape.ResultsPaged => new JsonObject { ["results"] = listed, ["page"] = Math.Max(page, 1), ["total"] = matching.Count },
                _ => new JsonObject { ["jobs"] = listed },
            };
        }
    }

    /// <summary>What a new submit could spend: the balance minus what running jobs have reserved.</summary>
    internal decimal AvailableCredits
    {
        get { lock (gate) return Settings.Credits - reserved; }
    }

    /// <summary>
    /// Runs a job: its leads finish one by one, evenly spread over the processing time measured from
    /// submit (so progress moves and a fake clock controls it), then the job ends. Callbacks go through a
    /// queue so a slow or failing webhook never holds up processing.
    /// </summary>
    async Task ProcessAsync(Job job, CancellationToken ct)
    {
        var callbacks = Channel.CreateUnbounded<Callback>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var delivering = DeliverAllAsync(job, callbacks.Reader, ct);
        try
        {
            for (var i = 0; i < job.Leads.Count; i++)
            {
                await WaitUntilAsync(job.CreatedAt + job.Duration * (i + 1) / (job.Leads.Count + 1), ct);
                lock (gate)
                {
                    if (ct.IsCancellationRequested)
                        return;
                    job.Status = "processing";
                    if (!(job.FailAfter <= i) && ProcessLead(job, job.Leads[i]) is { } item && job.Streaming)
                        Enqueue(job, callbacks.Writer, new JsonObject { ["enrichment_id"] = job.Id, ["results"] = new JsonArray(item.DeepClone()) },
                            Settings.HeldUntil);
                }
            }

            await WaitUntilAsync(job.CreatedAt + job.Duration, ct);
            lock (gate)
            {
                if (ct.IsCancellationRequested)
                    return;
                job.Status = job.WillFail ? "failed" : "completed";
                job.HeldUntil = Settings.HeldUntil;
                reserved -= job.Reserved;
                job.Reserved = 0;
                // A streamed job has already sent every item; a failure is still announced, or the client would never learn of it.
                if (!job.Streaming || job.WillFail)
                    Enqueue(job, callbacks.Writer, new JsonObject
                    {
                        ["enrichment_id"] = job.Id,
                        ["status"] = job.Status,
                        ["results"] = job.ResultsJson(),
                    }, job.HeldUntil);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            callbacks.Writer.Complete();
            await delivering;
        }
    }

    async Task WaitUntilAsync(DateTimeOffset due, CancellationToken ct)
    {
        var wait = due - time.GetUtcNow();
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, time, ct);
    }

    /// <summary>Works one lead out, charges for it and records its result item (null when skipped). Under the lock.</summary>
    JsonObject? ProcessLead(Job job, PreceptLead lead)
    {
        job.Completed++;
        job.Reserved -= lead.MaxCost;
        reserved -= lead.MaxCost;
        var outcome = OutcomeOf(lead);
        if (outcome == LeadOutcome.Skipped)
        {
            job.Skipped++;
            return null;
        }

        // Only requested types are searched, and only what is found is charged (§2.4).
        var email = lead.WantsEmail && outcome is LeadOutcome.Found or LeadOutcome.EmailOnly ? lead.Email : null;
        var phone = lead.WantsPhone && outcome is LeadOutcome.Found or LeadOutcome.PhoneOnly ? lead.PhoneIn(Settings.PhoneStyle) : null;
        var cost = 1m + (email is null ? 0 : 1) + (phone is null ? 0 : 10);
        Settings.Credits -= cost;
        creditsCharged += cost;
        job.Cost += cost;
        job.EmailsFound += email is null ? 0 : 1;
        job.PhonesFound += phone is null ? 0 : 1;

        var camel = Settings.ContactFieldNaming == ContactFieldNaming.Camel;
        var item = new JsonObject
        {
            [camel ? "linkedinUrl" : "linkedin_url"] = lead.LinkedinUrl,
            [camel ? "firstName" : "first_name"] = lead.FirstName,
            [camel ? "lastName" : "last_name"] = lead.LastName,
            [camel ? "companyName" : "company_name"] = lead.CompanyName,
            [camel ? "companyDomain" : "company_domain"] = lead.CompanyDomain,
            [camel ? "enrichEmail" : "enrich_email"] = email,
            [camel ? "enrichPhone" : "enrich_phone"] = phone,
        };
        if (Settings.EchoCustomData)
            item[camel ? "customData" : "custom_data"] = lead.CustomData?.DeepClone();
        if (outcome == LeadOutcome.NotFound)
            item["error"] = "Lead not found";
        job.Results.Add(item);
        return item;
    }

    LeadOutcome OutcomeOf(PreceptLead lead) =>
        lead.LinkedinUrl is not null && outcomes.TryGetValue(lead.LinkedinUrl, out var byUrl) ? byUrl
        : lead.LastName is not null && outcomes.TryGetValue(lead.LastName, out var byName) ? byName
        : Settings.Population is { } population ? (population.Finds("precept", lead.Identity, "email"), population.Finds("precept", lead.Identity, "phone")) switch
        {
            (true, true) => LeadOutcome.Found,
            (true, false) => LeadOutcome.EmailOnly,
            (false, true) => LeadOutcome.PhoneOnly,
            _ => LeadOutcome.NotFound,
        }
        : Settings.DefaultOutcome;

    /// <summary>A callback to send once <paramref name="HeldUntil"/>, if any, completes (see <see cref="PreceptSettings.HoldJobsOpen"/>).</summary>
    sealed record Callback(JsonObject Body, Task? HeldUntil);

    /// <summary>Under the lock, so a job's pending count never lags what it has queued.</summary>
    static void Enqueue(Job job, ChannelWriter<Callback> callbacks, JsonObject body, Task? heldUntil)
    {
        if (job.WebhookUrl is null || job.LosesWebhooks)
            return;
        job.WebhooksPending++;
        callbacks.TryWrite(new Callback(body, heldUntil));
    }

    async Task DeliverAllAsync(Job job, ChannelReader<Callback> callbacks, CancellationToken ct)
    {
        try
        {
            await foreach (var (body, heldUntil) in callbacks.ReadAllAsync(ct))
            {
                if (heldUntil is not null)
                    await heldUntil.WaitAsync(ct);
                var delivered = await DeliverAsync(job.WebhookUrl!, body.ToJsonString(), ct);
                lock (gate)
                {
                    job.WebhooksPending--;
                    job.WebhooksAbandoned += delivered ? 0 : 1;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// POSTs one callback; on a non-2xx, an error or a timeout retries up to 3 times with exponential
    /// backoff (§2.3), then gives up. After a success, sends the configured duplicates.
    /// </summary>
    async Task<bool> DeliverAsync(string url, string body, CancellationToken ct)
    {
        if (Settings.DropWebhooks)
            return true;
        for (var attempt = 0; attempt <= WebhookRetries; attempt++)
        {
            if (attempt > 0)
                await Task.Delay(Settings.WebhookRetryBaseDelay * (1 << (attempt - 1)), time, ct);
            if (await PostAsync(url, body, ct))
            {
                for (var copy = Settings.DuplicateDeliveries; copy > 0; copy--)
                    await PostAsync(url, body, ct);
                return true;
            }
        }
        return false;
    }

    async Task<bool> PostAsync(string url, string body, CancellationToken ct)
    {
        lock (gate)
        {
            ct.ThrowIfCancellationRequested();
            webhookAttempts++;
        }
        try
        {
            // No signature header: Precept documents none (§2.3).
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await webhooks.PostAsync(url, content, ct);
            if (!response.IsSuccessStatusCode)
                return false;
            lock (gate)
            {
                ct.ThrowIfCancellationRequested();
                webhookDeliveries++;
            }
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return false; // refused, reset or timed out: retried like a non-2xx
        }
    }

    static TimeSpan Jitter(TimeSpan max) => max > TimeSpan.Zero ? max * Random.Shared.NextDouble() : TimeSpan.Zero;

    static bool TakeOne(ref int remaining)
    {
        if (remaining == 0)
            return false;
        remaining--;
        return true;
    }

    static JsonObject Error(string message) => new() { ["error"] = message };

    /// <summary>Stops running jobs and webhook deliveries and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        Task[] stopping;
        lock (gate)
        {
            generation.Cancel();
            stopping = running.ToArray();
        }
        await Task.WhenAll(stopping);
        webhooks.Dispose();
    }

    internal sealed record SubmitAnswer(int Status, JsonObject Body, bool DropConnection = false, TimeSpan Latency = default);

    sealed class Job(string id, int sequence, string? name, string? webhookUrl, bool streaming, List<PreceptLead> leads,
        DateTimeOffset createdAt, TimeSpan duration)
    {
        public string Id { get; } = id;
        /// <summary>Creation order; timestamps can tie (a fake clock).</summary>
        public int Sequence { get; } = sequence;
        public string? Name { get; } = name;
        public string? WebhookUrl { get; } = webhookUrl;
        public bool Streaming { get; } = streaming;
        public List<PreceptLead> Leads { get; } = leads;
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public TimeSpan Duration { get; } = duration;
        /// <summary>Set for a job that fails: how many of its leads it works first.</summary>
        public int? FailAfter { get; init; }
        public bool WillFail => FailAfter is not null;
        public bool LosesWebhooks { get; init; }
        public string Status { get; set; } = "pending";
        public decimal Reserved { get; set; }
        public int Completed { get; set; }
        public int Skipped { get; set; }
        public decimal Cost { get; set; }
        public int EmailsFound { get; set; }
        public int PhonesFound { get; set; }
        public int WebhooksPending { get; set; }
        public int WebhooksAbandoned { get; set; }
        public List<JsonObject> Results { get; } = [];
        /// <summary>Set when the job ended while jobs were held open: until it completes, the API shows the job still processing.</summary>
        public Task? HeldUntil { get; set; }

        bool Ended => Status is "completed" or "failed";
        bool Held => Ended && HeldUntil is { IsCompleted: false };
        /// <summary>What the API shows: a held job as it was just before it ended.</summary>
        public string ShownStatus => Held ? "processing" : Status;

        public JsonArray ResultsJson() => new(Results.Select(r => (JsonNode)r.DeepClone()).ToArray());

        /// <summary>The body of GET /v1/jobs/{id} (providers.md §2.2 (b)).</summary>
        public JsonObject ToJson(bool showName) => new()
        {
            ["enrichment_id"] = Id,
            ["name"] = showName ? Name : null,
            ["status"] = ShownStatus,
            ["progress"] = new JsonObject { ["completed"] = Completed, ["total"] = Leads.Count, ["skipped"] = Skipped },
            ["results"] = Ended && !Held ? ResultsJson() : null,
            ["cost"] = new JsonObject { ["credits"] = Cost },
            ["emails_found"] = EmailsFound,
            ["phones_found"] = PhonesFound,
            ["created_at"] = CreatedAt.ToString("O"),
        };

        public PreceptJobSnapshot Snapshot() => new(Id, Name, Status, WebhookUrl, Streaming, Leads.Count, Completed, Skipped, Cost,
            EmailsFound, PhonesFound, Ended ? Results.Select(r => (JsonObject)r.DeepClone()).ToList() : null, CreatedAt,
            WebhooksPending, WebhooksAbandoned, LosesWebhooks, Held);
    }
}
