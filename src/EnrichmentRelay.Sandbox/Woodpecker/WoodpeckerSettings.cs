namespace EnrichmentRelay.Sandbox.Woodpecker;

/// <summary>
/// Knobs tests turn while batches run. Every access takes the simulator's lock, so a change is seen whole
/// (a decimal can tear) and applies to whatever the simulator computes next. Reset restores the defaults in
/// place, so a reference a test holds stays live.
/// </summary>
public sealed class WoodpeckerSettings
{
    readonly object gate;
    decimal credits;
    TimeSpan processingDelay;
    TimeSpan prospectVisibilityDelay;
    LeadConversion defaultLeadOutcome;
    TimeSpan listWindow;
    bool wrapGetByUuid;
    bool creditsExhaustedWithPartialBatch;
    int maxQueued;
    TimeSpan queueWait;
    int tooManyRequestsStatus;
    TimeSpan requestProcessingTime;

    internal WoodpeckerSettings(object gate)
    {
        this.gate = gate;
        RestoreDefaults();
    }

    /// <summary>
    /// The account balance. Every pending lead or prospect reserves 1.5 (the price of a found email), so a submit
    /// enqueues at most floor((Credits - reserved) / 1.5) items.
    /// </summary>
    public decimal Credits
    {
        get { lock (gate) return credits; }
        set { lock (gate) credits = value; }
    }

    /// <summary>The longest an item waits to be processed: item i of a batch is processed after ProcessingDelay × (1 + i % 4) / 4.</summary>
    public TimeSpan ProcessingDelay
    {
        get { lock (gate) return processingDelay; }
        set { lock (gate) processingDelay = NotNegative(value); }
    }

    /// <summary>How long after its conversion a prospect created from a lead stays invisible to <c>GET /rest/v1/prospects</c>.</summary>
    public TimeSpan ProspectVisibilityDelay
    {
        get { lock (gate) return prospectVisibilityDelay; }
        set { lock (gate) prospectVisibilityDelay = NotNegative(value); }
    }

    /// <summary>The outcome for leads without an entry set by <see cref="WoodpeckerSimulator.SetLeadOutcome"/>.</summary>
    public LeadConversion DefaultLeadOutcome
    {
        get { lock (gate) return defaultLeadOutcome; }
        set { lock (gate) defaultLeadOutcome = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value)); }
    }

    /// <summary>What the list and status-query endpoints return without a filter: batches created within this window.</summary>
    public TimeSpan ListWindow
    {
        get { lock (gate) return listWindow; }
        set { lock (gate) listWindow = NotNegative(value); }
    }

    /// <summary>Answer get-by-uuid as <c>{"lead_enrichment": {...}}</c> instead of the bare batch object.</summary>
    public bool WrapGetByUuid
    {
        get { lock (gate) return wrapGetByUuid; }
        set { lock (gate) wrapGetByUuid = value; }
    }

    /// <summary>
    /// When credits cover some but not all leads, answer <c>CREDITS_EXHAUSTED</c> with the uuid and partial count
    /// (instead of <c>PARTIALLY_ENQUEUED</c>). With no credits at all the uuid is null either way.
    /// </summary>
    public bool CreditsExhaustedWithPartialBatch
    {
        get { lock (gate) return creditsExhaustedWithPartialBatch; }
        set { lock (gate) creditsExhaustedWithPartialBatch = value; }
    }

    /// <summary>Requests that may wait behind the one being processed; any further one is dropped at once.</summary>
    public int MaxQueued
    {
        get { lock (gate) return maxQueued; }
        set { lock (gate) maxQueued = NotNegative(value); }
    }

    /// <summary>How long a queued request waits (real time) before it is dropped.</summary>
    public TimeSpan QueueWait
    {
        get { lock (gate) return queueWait; }
        set { lock (gate) queueWait = NotNegative(value); }
    }

    /// <summary>The status of a dropped request (the real one is not documented: 429, or 400 like v1's E_TOO_MANY_REQUESTS).</summary>
    public int TooManyRequestsStatus
    {
        get { lock (gate) return tooManyRequestsStatus; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 400);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 599);
            lock (gate) tooManyRequestsStatus = value;
        }
    }

    /// <summary>Artificial server time (real time) every /rest request spends holding the per-key slot.</summary>
    public TimeSpan RequestProcessingTime
    {
        get { lock (gate) return requestProcessingTime; }
        set { lock (gate) requestProcessingTime = NotNegative(value); }
    }

    internal void RestoreDefaults()
    {
        lock (gate)
        {
            credits = 1_000_000;
            processingDelay = TimeSpan.FromSeconds(1);
            prospectVisibilityDelay = TimeSpan.Zero;
            defaultLeadOutcome = LeadConversion.Converted;
            listWindow = TimeSpan.FromHours(24);
            wrapGetByUuid = false;
            creditsExhaustedWithPartialBatch = false;
            maxQueued = 6;
            queueWait = TimeSpan.FromSeconds(15);
            tooManyRequestsStatus = 429;
            requestProcessingTime = TimeSpan.Zero;
        }
    }

    static TimeSpan NotNegative(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
        return value;
    }

    static int NotNegative(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value;
    }
}
