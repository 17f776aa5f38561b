using System.Diagnostics.Metrics;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;

namespace EnrichmentRelay.Telemetry;

/// <summary>
/// The relay's own instruments, all in one place (meter <c>EnrichmentRelay</c>, exported at <c>/metrics</c>).
/// Tags are low-cardinality on purpose: provider, outcome, a route template or a message type, never an id.
/// In Prometheus the dots become underscores, counters end in <c>_total</c> and the unit is appended
/// (<c>relay.provider.call.duration</c> in seconds is <c>relay_provider_call_duration_seconds</c>).
/// </summary>
public sealed class RelayMetrics
{
    public const string MeterName = "EnrichmentRelay";
    const string NoProvider = "none";

    // Provider calls take milliseconds to tens of seconds; the SDK's default buckets are meant for milliseconds.
    static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    static readonly int[] BatchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

    // Which provider's scheduled poll the current async flow is running, so its HTTP calls count as poll requests.
    static readonly AsyncLocal<string?> pollingProvider = new();

    readonly Counter<long> accepted;
    readonly Counter<long> completed;
    readonly Counter<double> credits;
    readonly Counter<long> fieldsRequested;
    readonly Counter<long> contactsFound;
    readonly Histogram<double> callDuration;
    readonly Counter<long> callErrors;
    readonly Histogram<int> batchSize;
    readonly Counter<long> polls;
    readonly Counter<long> pollRequests;
    readonly Counter<long> callbacksReceived;
    readonly Counter<long> callbacksDuplicated;
    readonly Counter<long> callbacksRescued;
    readonly Counter<long> outboxPublished;
    readonly UpDownCounter<int> outboxUnconfirmed;
    readonly UpDownCounter<int> outboxUnmarked;
    readonly Counter<long> rowsClaimed;
    readonly Counter<long> rowsPassedOver;
    readonly Counter<long> ledgerLockWaits;
    readonly Counter<long> cacheLookups;
    readonly Counter<double> cacheCreditsSaved;
    volatile LedgerReadings readings = LedgerReadings.None;
    volatile IReadOnlyList<BudgetReading> budgets = [];
    readonly System.Collections.Concurrent.ConcurrentDictionary<ProviderName, int> paused = new();

    public RelayMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        accepted = meter.CreateCounter<long>("relay.requests.accepted", "{request}",
            "Requests stored for a provider (repeats of a RequestId are not counted).");
        completed = meter.CreateCounter<long>("relay.requests.completed", "{request}",
            "Requests that reached their one terminal outcome, by provider and outcome (provider 'none': rejected before routing).");
        credits = meter.CreateCounter<double>("relay.credits.charged", "{credit}",
            "Provider credits charged: per request where the provider says so (Woodpecker), per job where it reports a job's cost (Precept).");
        fieldsRequested = meter.CreateCounter<long>("relay.fields.requested", "{field}",
            "Fields (email, phone) asked of a provider by the requests it completed, by provider and field: the denominator of the hit rate.");
        contactsFound = meter.CreateCounter<long>("relay.contacts.found", "{field}",
            "Fields a provider found at least one value of when a request completed, by provider and field: found / requested is the hit rate.");
        callDuration = meter.CreateHistogram("relay.provider.call.duration", "s",
            "Duration of each HTTP attempt to a provider, by route template.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        callErrors = meter.CreateCounter<long>("relay.provider.call.errors", "{error}",
            "Provider HTTP attempts that failed: an error status (error = the code) or no answer (error = the failure kind).");
        batchSize = meter.CreateHistogram("relay.batch.size", "{lead}",
            "Leads per provider submit call.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        polls = meter.CreateCounter<long>("relay.polls", "{poll}",
            "Scheduled polls run (one per provider per tick across instances), by result.");
        pollRequests = meter.CreateCounter<long>("relay.poll.requests", "{request}",
            "HTTP requests the scheduled polls made to the provider: what polling costs against its rate limits.");
        callbacksReceived = meter.CreateCounter<long>("relay.callbacks.received", "{callback}",
            "Webhook calls received, by result: stored, malformed, unknown (no such callback URL), too_large.");
        callbacksDuplicated = meter.CreateCounter<long>("relay.callbacks.duplicated", "{callback}",
            "Stored callbacks for a job that was already complete when they were applied, or repeating the body of one applied with them (retries and duplicates).");
        callbacksRescued = meter.CreateCounter<long>("relay.callbacks.rescued", "{request}",
            "Requests completed by the sweep because their callback never came.");
        outboxPublished = meter.CreateCounter<long>("relay.outbox.published", "{message}",
            "Outbox messages published and confirmed by the broker, by message type.");
        outboxUnconfirmed = meter.CreateUpDownCounter<int>("relay.outbox.unconfirmed", "{message}",
            "Outbox messages this instance has published that the broker has not confirmed yet.");
        outboxUnmarked = meter.CreateUpDownCounter<int>("relay.outbox.unmarked", "{message}",
            "Outbox messages the broker confirmed that this instance has not recorded as sent yet (held in memory while the ledger is " +
            "unreachable). With relay.outbox.unconfirmed: what the instance dying now could publish twice.");
        rowsClaimed = meter.CreateCounter<long>("relay.claims.rows", "{row}",
            "Rows this instance claimed and took for work that any instance could do, by work: requests (into a batch), outbox, callbacks.");
        rowsPassedOver = meter.CreateCounter<long>("relay.claims.passed_over", "{row}",
            "Rows a claim that came back short left behind (PostgreSQL): locked by another instance, or arrived meanwhile. " +
            "Against relay.claims.rows: how much the instances get in each other's way.");
        ledgerLockWaits = meter.CreateCounter<long>("relay.ledger.lock_waits", "{wait}",
            "Statements that found the SQLite ledger locked by another transaction and waited for its one writer's lock.");
        cacheLookups = meter.CreateCounter<long>("relay.cache.lookups", "{request}",
            "Requests looked up in the identity cache at intake, by result: hit (every field asked answered: completed with no call), " +
            "partial (some answered; the rest asked of a provider), miss.");
        cacheCreditsSaved = meter.CreateCounter<double>("relay.cache.credits_saved", "{credit}",
            "Credits the identity cache saved, by the provider that originally answered: its price (the budget price table) for the fields answered.");
        foreach (var result in new[] { "hit", "partial", "miss" })
            cacheLookups.Add(0, new KeyValuePair<string, object?>("result", result));

        // Counters start at 0 for every provider, so rate() and increase() work from the first scrape.
        foreach (var provider in Providers)
        {
            accepted.Add(0, new KeyValuePair<string, object?>("provider", Tag(provider)));
            cacheCreditsSaved.Add(0, new KeyValuePair<string, object?>("provider", Tag(provider)));
            foreach (var field in Enum.GetValues<EnrichmentField>())
            {
                fieldsRequested.Add(0, new KeyValuePair<string, object?>("provider", Tag(provider)), new KeyValuePair<string, object?>("field", Tag(field)));
                contactsFound.Add(0, new KeyValuePair<string, object?>("provider", Tag(provider)), new KeyValuePair<string, object?>("field", Tag(field)));
            }
        }
        callbacksDuplicated.Add(0, new KeyValuePair<string, object?>("provider", Tag(ProviderName.Precept)));
        callbacksRescued.Add(0, new KeyValuePair<string, object?>("provider", Tag(ProviderName.Precept)));
        outboxUnconfirmed.Add(0);
        foreach (var work in ClaimedWork)
        {
            rowsClaimed.Add(0, new KeyValuePair<string, object?>("work", work));
            rowsPassedOver.Add(0, new KeyValuePair<string, object?>("work", work));
        }
        outboxUnmarked.Add(0);

        meter.CreateObservableGauge("relay.outbox.lag", () => Ledger().OutboxLagSeconds, "s",
            "Age of the oldest outbox message not yet published (0 when none is waiting).");
        meter.CreateObservableGauge("relay.outbox.pending", () => Ledger().OutboxPending, "{message}",
            "Outbox messages not yet published.");
        meter.CreateObservableGauge("relay.dead_letters", () => Ledger().DeadLetters, "{message}",
            "Dead letters in the ledger not replayed yet: messages waiting for an operator (GET /admin/dead-letters).");
        meter.CreateObservableGauge("relay.requests.open", ObserveOpen, "{request}",
            "Requests not completed yet, by provider and state (accepted: waiting for a batch; submitted: at the provider).");
        meter.CreateObservableGauge("relay.requests.oldest_open.age", ObserveOldest, "s",
            "Age of the oldest request not completed yet, by provider: what is stuck.");
        meter.CreateObservableGauge("relay.provider.paused", ObservePaused, null,
            "1 while a provider is paused because it refused the relay's key (401/403) or its address (404 to a submit); its requests wait.");
        meter.CreateObservableGauge("relay.jobs.needing_attention", ObserveNeedingAttention, null,
            "Provider jobs whose submit's fate is unknown and that the provider did not show: an operator resends or fails them (/admin/jobs).");
        meter.CreateObservableGauge("relay.budget.reserved", () => ObserveBudget(b => b.Reserved), "{credit}",
            "Credits of today's (UTC) budget reserved by submits whose cost is not settled yet, by provider.");
        meter.CreateObservableGauge("relay.budget.charged", () => ObserveBudget(b => b.Charged), "{credit}",
            "Credits of today's (UTC) budget charged by settled submits, by provider.");
        meter.CreateObservableGauge("relay.budget.cap", () => ObserveBudget(b => b.DailyCap), "{credit}",
            "Today's credit cap, by provider (absent for a provider without one).");
    }

    /// <summary>The names of the providers' tag values: the wire names (precept, woodpecker, lance).</summary>
    public static string Tag(ProviderName? provider) => provider switch
    {
        ProviderName.Precept => "precept",
        ProviderName.Woodpecker => "woodpecker",
        ProviderName.Lance => "lance",
        _ => NoProvider,
    };

    static string Tag(Outcome outcome) => JsonNamingPolicy.CamelCase.ConvertName(outcome.ToString());

    /// <summary>The wire names of the fields: email, phone.</summary>
    public static string Tag(EnrichmentField field) => JsonNamingPolicy.CamelCase.ConvertName(field.ToString());

    public void RequestAccepted(ProviderName provider, int count = 1)
    {
        if (count > 0)
            accepted.Add(count, new KeyValuePair<string, object?>("provider", Tag(provider)));
    }

    /// <summary>Call once the terminal state is committed (a completion that lost a race is not counted).</summary>
    /// <summary>A provider job's own cost (Precept's <c>cost.credits</c>), or a change to it.</summary>
    public void JobCharged(ProviderName provider, decimal amount) =>
        credits.Add((double)amount, new KeyValuePair<string, object?>("provider", Tag(provider)));

    /// <summary>An identity cache lookup at intake, once its request is stored: hit, partial or miss.</summary>
    public void CacheLookup(string result) => cacheLookups.Add(1, new KeyValuePair<string, object?>("result", result));

    public void CacheCreditsSaved(ProviderName provider, decimal credits)
    {
        if (credits > 0)
            cacheCreditsSaved.Add((double)credits, new KeyValuePair<string, object?>("provider", Tag(provider)));
    }

    public void RequestCompleted(ProviderName? provider, Outcome outcome, decimal? creditsCharged)
    {
        var providerTag = new KeyValuePair<string, object?>("provider", Tag(provider));
        completed.Add(1, providerTag, new KeyValuePair<string, object?>("outcome", Tag(outcome)));
        if (creditsCharged is > 0)
            credits.Add((double)creditsCharged.Value, providerTag);
    }

    /// <summary>
    /// What a request that a provider completed asked for and found, per field; call once its terminal state is committed.
    /// Requests refused before routing (no provider) asked no provider anything and are not counted.
    /// </summary>
    public void FieldsCompleted(ProviderName? provider, IEnumerable<EnrichmentField> asked, bool emailFound, bool phoneFound)
    {
        if (provider is null)
            return;
        var providerTag = new KeyValuePair<string, object?>("provider", Tag(provider));
        foreach (var field in asked)
        {
            var fieldTag = new KeyValuePair<string, object?>("field", Tag(field));
            fieldsRequested.Add(1, providerTag, fieldTag);
            if (field == EnrichmentField.Email ? emailFound : phoneFound)
                contactsFound.Add(1, providerTag, fieldTag);
        }
    }

    public void ProviderCall(string provider, string endpoint, TimeSpan duration, string? error)
    {
        var providerTag = new KeyValuePair<string, object?>("provider", provider);
        var endpointTag = new KeyValuePair<string, object?>("endpoint", endpoint);
        callDuration.Record(duration.TotalSeconds, providerTag, endpointTag);
        if (error is not null)
            callErrors.Add(1, providerTag, endpointTag, new KeyValuePair<string, object?>("error", error));
        if (pollingProvider.Value is not null)
            pollRequests.Add(1, providerTag);
    }

    public void BatchSubmitted(ProviderName provider, int leads) => batchSize.Record(leads, new KeyValuePair<string, object?>("provider", Tag(provider)));

    /// <summary>Marks the current async flow as <paramref name="provider"/>'s poll until disposed; counts the poll when it ends.</summary>
    public PollRun Polling(string provider) => new(this, provider);

    public void CallbackReceived(ProviderName provider, string result) =>
        callbacksReceived.Add(1, new KeyValuePair<string, object?>("provider", Tag(provider)), new KeyValuePair<string, object?>("result", result));

    public void CallbacksDuplicated(ProviderName provider, int callbacks)
    {
        if (callbacks > 0)
            callbacksDuplicated.Add(callbacks, new KeyValuePair<string, object?>("provider", Tag(provider)));
    }

    public void CallbacksRescued(ProviderName provider, int requests)
    {
        if (requests > 0)
            callbacksRescued.Add(requests, new KeyValuePair<string, object?>("provider", Tag(provider)));
    }

    public void ProviderPaused(ProviderName provider, bool isPaused) => paused[provider] = isPaused ? 1 : 0;

    public void OutboxPublished(string messageType) => outboxPublished.Add(1, new KeyValuePair<string, object?>("message_type", messageType));

    /// <summary>Publishes started (+) or ended, confirmed or not (-).</summary>
    /// <summary>The kinds of rows instances claim from one another (the ledger's row claims).</summary>
    public static readonly string[] ClaimedWork = ["requests", "outbox", "callbacks"];

    /// <summary>A statement found the SQLite ledger locked by another transaction and waits for the lock.</summary>
    public void LedgerLockWaited() => ledgerLockWaits.Add(1);

    /// <summary>One claim: the rows it took, and those it passed over that it had room for (rows locked by another instance or arrived meanwhile).</summary>
    public void RowsClaimed(string work, int taken, int passedOver)
    {
        var tag = new KeyValuePair<string, object?>("work", work);
        if (taken > 0)
            rowsClaimed.Add(taken, tag);
        if (passedOver > 0)
            rowsPassedOver.Add(passedOver, tag);
    }

    public void OutboxUnconfirmed(int change) => outboxUnconfirmed.Add(change);

    /// <summary>Confirmed rows (+) that are then recorded as sent (-).</summary>
    public void OutboxUnmarked(int change) => outboxUnmarked.Add(change);

    /// <summary>The latest figures read from the ledger (see <see cref="LedgerGaugeSampler"/>), reported on the next scrape.</summary>
    public void Observe(LedgerReadings latest) => readings = latest;

    /// <summary>Pulsed when a collection reports the ledger's readings (see <see cref="LedgerGaugeSampler"/>).</summary>
    public LedgerGaugesCollected LedgerGaugesCollected { get; } = new();

    /// <summary>The ledger's readings for a collection, which asks the sampler for the next.</summary>
    LedgerReadings Ledger()
    {
        LedgerGaugesCollected.Pulse();
        return readings;
    }

    // Every provider and state is reported, 0 included, so a dashboard sees a flat line rather than no data.
    static readonly ProviderName[] Providers = Enum.GetValues<ProviderName>();
    static readonly string[] OpenStates = ["accepted", "submitted"];

    IEnumerable<Measurement<long>> ObserveOpen()
    {
        var open = Ledger().Open;
        return Providers.SelectMany(provider => OpenStates.Select(state => new Measurement<long>(
            open.Where(o => o.Provider == provider && o.State == state).Sum(o => o.Count),
            new KeyValuePair<string, object?>("provider", Tag(provider)), new KeyValuePair<string, object?>("state", state))));
    }

    IEnumerable<Measurement<double>> ObserveOldest()
    {
        var open = Ledger().Open;
        return Providers.Select(provider => new Measurement<double>(
            open.Where(o => o.Provider == provider).Select(o => o.OldestAgeSeconds).DefaultIfEmpty(0).Max(),
            new KeyValuePair<string, object?>("provider", Tag(provider))));
    }

    IEnumerable<Measurement<int>> ObservePaused() =>
        Providers.Select(provider => new Measurement<int>(paused.GetValueOrDefault(provider), new KeyValuePair<string, object?>("provider", Tag(provider))));

    /// <summary>The latest budgets read from the ledger (by the budgets' settlement), reported on the next scrape.</summary>
    public void ObserveBudgets(IReadOnlyList<BudgetReading> latest) => budgets = latest;

    IEnumerable<Measurement<double>> ObserveBudget(Func<BudgetReading, double?> figure) =>
        budgets.Where(b => figure(b) is not null)
            .Select(b => new Measurement<double>(figure(b)!.Value, new KeyValuePair<string, object?>("provider", Tag(b.Provider))));

    IEnumerable<Measurement<long>> ObserveNeedingAttention()
    {
        var jobs = Ledger().JobsNeedingAttention;
        return Providers.Select(provider => new Measurement<long>(jobs.GetValueOrDefault(provider),
            new KeyValuePair<string, object?>("provider", Tag(provider))));
    }

    public sealed class PollRun : IDisposable
    {
        readonly RelayMetrics metrics;
        readonly string provider;
        readonly string? outer;
        string result = "ok";

        internal PollRun(RelayMetrics metrics, string provider)
        {
            this.metrics = metrics;
            this.provider = provider;
            outer = pollingProvider.Value;
            pollingProvider.Value = provider;
        }

        public void Failed() => result = "failed";

        public void Dispose()
        {
            pollingProvider.Value = outer;
            metrics.polls.Add(1, new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("result", result));
        }
    }
}

/// <summary>What the ledger held at the last reading.</summary>
public sealed record LedgerReadings(double OutboxLagSeconds, long OutboxPending, long DeadLetters, IReadOnlyList<OpenRequests> Open,
    IReadOnlyDictionary<ProviderName, long> JobsNeedingAttention)
{
    public static readonly LedgerReadings None = new(0, 0, 0, [], new Dictionary<ProviderName, long>());
}

public sealed record OpenRequests(ProviderName? Provider, string State, long Count, double OldestAgeSeconds);

/// <summary>One provider's budget today, in credits.</summary>
public sealed record BudgetReading(ProviderName Provider, double? DailyCap, double Reserved, double Charged);
