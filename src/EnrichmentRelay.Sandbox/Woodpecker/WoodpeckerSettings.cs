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
    bool holdProcessing;
    TimeSpan prospectVisibilityDelay;
    LeadConversion defaultLeadOutcome;
    FoundShare? population;
    TimeSpan listWindow;
    bool wrapGetByUuid;
    bool creditsExhaustedWithPartialBatch;
    int maxQueued;
    TimeSpan queueWait;
    int tooManyRequestsStatus;
    TimeSpan requestProcessingTime;
    bool prospectListHonoursSort;
    bool linkedInSearchable;
    bool alreadyPendingLeavesBatchEnqueued;
    bool createdAfterExcludesTheDay;
    TimeSpan accountUtcOffset;
    bool convertedProspectsKeepLinkedIn;
    string prospectPendingStatus = null!;
    string notAProspectStatus = null!;
    bool statusQueryWindowAppliesToEmails;

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

    /// <summary>
    /// While on, no item is processed, whatever its due time: its lead or prospect stays pending. A test that needs an
    /// item still pending when the relay reaches it holds processing instead of racing a delay.
    /// </summary>
    public bool HoldProcessing
    {
        get { lock (gate) return holdProcessing; }
        set { lock (gate) holdProcessing = value; }
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

    /// <summary>
    /// Off (null) by default. Set, a lead's conversion (its email found or not), unless set for its uid, is decided by
    /// <see cref="FoundShare.Finds"/>("woodpecker", uid, "email") instead of <see cref="DefaultLeadOutcome"/>: each provider
    /// finds its own, overlapping part of the contacts (a population for waterfall tests).
    /// </summary>
    public FoundShare? Population
    {
        get { lock (gate) return population; }
        set { lock (gate) population = value; }
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

    /// <summary>
    /// How long a queued request waits before it is dropped. Real time, not the sandbox's clock: a test that jumps a fake
    /// clock forward must not drop a request that queued for a moment behind another.
    /// </summary>
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

    /// <summary>
    /// Artificial server time every /rest request spends holding the per-key slot, on the sandbox's clock: under a fake
    /// clock the slot stays taken until the test advances it.
    /// </summary>
    public TimeSpan RequestProcessingTime
    {
        get { lock (gate) return requestProcessingTime; }
        set { lock (gate) requestProcessingTime = NotNegative(value); }
    }

    // ---- Readings of what the vendor pages leave open (providers.md §1, §5). Each default is the convenient reading
    // the relay was first written against; UseDocumentedOnly() turns every one to the least convenient the pages allow.

    /// <summary>
    /// Whether <c>GET /rest/v1/prospects</c> honours <c>sort=-updated</c>. The page documents <c>sort</c> (+field/-field) but not
    /// which fields sort; when false the list comes in id order, whatever <c>sort</c> says.
    /// </summary>
    public bool ProspectListHonoursSort
    {
        get { lock (gate) return prospectListHonoursSort; }
        set { lock (gate) prospectListHonoursSort = value; }
    }

    /// <summary>Whether the v1 <c>search=</c> takes <c>linkedin_url</c>; the page's list of searchable fields does not name it (when false: 400 E_WRONG_PARAM).</summary>
    public bool LinkedInSearchable
    {
        get { lock (gate) return linkedInSearchable; }
        set { lock (gate) linkedInSearchable = value; }
    }

    /// <summary>
    /// A submit some of whose leads are left out only because they are already pending answers <c>ENQUEUED</c> (the seed:
    /// "at least one lead was accepted and all eligible leads were queued") instead of <c>PARTIALLY_ENQUEUED</c>.
    /// </summary>
    public bool AlreadyPendingLeavesBatchEnqueued
    {
        get { lock (gate) return alreadyPendingLeavesBatchEnqueued; }
        set { lock (gate) alreadyPendingLeavesBatchEnqueued = value; }
    }

    /// <summary>
    /// How the list reads <c>created_after=YYYY-MM-DD</c> (the page: "batches requested after this date"): false, from the
    /// start of that day in UTC; true, only after the whole day has ended in the account's time zone (<see cref="AccountUtcOffset"/>).
    /// </summary>
    public bool CreatedAfterExcludesTheDay
    {
        get { lock (gate) return createdAfterExcludesTheDay; }
        set { lock (gate) createdAfterExcludesTheDay = value; }
    }

    /// <summary>The account's offset from UTC: timestamps are shown with it (the docs' examples use +02:00), and days end in it.</summary>
    public TimeSpan AccountUtcOffset
    {
        get { lock (gate) return accountUtcOffset; }
        set
        {
            if (value < TimeSpan.FromHours(-12) || value > TimeSpan.FromHours(14) || value.Ticks % TimeSpan.TicksPerMinute != 0)
                throw new ArgumentOutOfRangeException(nameof(value), "A UTC offset is whole minutes from -12:00 to +14:00.");
            lock (gate) accountUtcOffset = value;
        }
    }

    /// <summary>Whether the prospect a converted lead becomes carries the lead's LinkedIn URL (nothing documents which fields it gets).</summary>
    public bool ConvertedProspectsKeepLinkedIn
    {
        get { lock (gate) return convertedProspectsKeepLinkedIn; }
        set { lock (gate) convertedProspectsKeepLinkedIn = value; }
    }

    /// <summary>The status a queued prospect shows until it is processed (only PROCESSED_ENRICHED and PROCESSED_NOT_ENRICHED are documented).</summary>
    public string ProspectPendingStatus
    {
        get { lock (gate) return prospectPendingStatus; }
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value);
            lock (gate) prospectPendingStatus = value;
        }
    }

    /// <summary>The status an enrichment of an email that is not one of the account's prospects ends with (not documented).</summary>
    public string NotAProspectStatus
    {
        get { lock (gate) return notAProspectStatus; }
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value);
            lock (gate) notAProspectStatus = value;
        }
    }

    /// <summary>
    /// Whether the status query with an <c>emails</c> filter is also limited to recent batches (<see cref="ListWindow"/>), like
    /// the query without one; the page does not say.
    /// </summary>
    public bool StatusQueryWindowAppliesToEmails
    {
        get { lock (gate) return statusQueryWindowAppliesToEmails; }
        set { lock (gate) statusQueryWindowAppliesToEmails = value; }
    }

    /// <summary>
    /// Every behaviour above (and the other undocumented ones: the get-by-uuid wrapper, a partial CREDITS_EXHAUSTED, the
    /// status of a dropped request, a delay before a converted prospect can be read) set to the least convenient reading
    /// the vendor pages still allow. Credits, delays and queue limits otherwise stay as they are.
    /// </summary>
    public void UseDocumentedOnly()
    {
        lock (gate)
        {
            prospectListHonoursSort = false;
            linkedInSearchable = false;
            alreadyPendingLeavesBatchEnqueued = true;
            createdAfterExcludesTheDay = true;
            accountUtcOffset = TimeSpan.FromHours(-12);
            convertedProspectsKeepLinkedIn = false;
            prospectPendingStatus = "IN_PROGRESS";
            notAProspectStatus = "PROCESSED_PROSPECT_NOT_FOUND";
            statusQueryWindowAppliesToEmails = true;
            wrapGetByUuid = true;
            creditsExhaustedWithPartialBatch = true;
            tooManyRequestsStatus = 400;
            if (prospectVisibilityDelay < DocumentedOnlyVisibilityDelay)
                prospectVisibilityDelay = DocumentedOnlyVisibilityDelay;
        }
    }

    /// <summary>Short, so tests stay quick; long enough that a converted lead's prospect is not there on the poll that sees the conversion.</summary>
    static readonly TimeSpan DocumentedOnlyVisibilityDelay = TimeSpan.FromSeconds(2);

    internal void RestoreDefaults()
    {
        lock (gate)
        {
            credits = 1_000_000;
            processingDelay = TimeSpan.FromSeconds(1);
            prospectVisibilityDelay = TimeSpan.Zero;
            defaultLeadOutcome = LeadConversion.Converted;
            population = null;
            listWindow = TimeSpan.FromHours(24);
            wrapGetByUuid = false;
            creditsExhaustedWithPartialBatch = false;
            maxQueued = 6;
            queueWait = TimeSpan.FromSeconds(15);
            tooManyRequestsStatus = 429;
            requestProcessingTime = TimeSpan.Zero;
            prospectListHonoursSort = true;
            linkedInSearchable = true;
            alreadyPendingLeavesBatchEnqueued = false;
            createdAfterExcludesTheDay = false;
            accountUtcOffset = TimeSpan.FromHours(2);
            convertedProspectsKeepLinkedIn = true;
            prospectPendingStatus = "PENDING";
            notAProspectStatus = "PROCESSED_NOT_ENRICHED";
            statusQueryWindowAppliesToEmails = false;
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
