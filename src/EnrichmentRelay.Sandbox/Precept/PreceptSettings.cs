using System.Diagnostics.CodeAnalysis;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>
/// Knobs tests turn while jobs run. Every access takes the simulator's lock, so a change is seen whole
/// (a decimal can tear) and applies to whatever the simulator does next. Reset restores the defaults in
/// place, so a reference a test holds stays live.
/// </summary>
public sealed class PreceptSettings
{
    readonly object gate;
    decimal credits;
    LeadOutcome defaultOutcome;
    FoundShare? population;
    TimeSpan processingDelay;
    TimeSpan processingJitter;
    ContactFieldNaming contactFieldNaming;
    PhoneStyle phoneStyle;
    int duplicateDeliveries;
    bool dropWebhooks;
    int loseWebhooksOfEvery;
    string? defaultWebhookUrl;
    string unprocessedFieldName;
    TimeSpan webhookRetryBaseDelay;
    TimeSpan submitLatency;
    bool listFiltersByName;
    bool listShowsName;
    JobListShape listShape;
    int listPageSize;
    bool jobShowsName;
    bool echoCustomData;
    bool holdJobsOpen;
    // Completed when HoldJobsOpen is turned off: what the jobs held until then wait for.
    TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal PreceptSettings(object gate)
    {
        this.gate = gate;
        RestoreDefaults();
    }

    /// <summary>The account balance; a submit is refused with 402 once what is left (minus running jobs' reservations) is 0 or less.</summary>
    public decimal Credits
    {
        get { lock (gate) return credits; }
        set { lock (gate) credits = value; }
    }

    /// <summary>The outcome for leads without an entry set by <see cref="PreceptSimulator.SetOutcome"/>.</summary>
    public LeadOutcome DefaultOutcome
    {
        get { lock (gate) return defaultOutcome; }
        set { lock (gate) defaultOutcome = Defined(value); }
    }

    /// <summary>
    /// Off (null) by default. Set, the (lead, field) pairs without an outcome of their own are found or not by
    /// <see cref="FoundShare.Finds"/>("precept", the LinkedIn URL (else "first last @ company"), "email"/"phone") instead of by the default outcome: each provider
    /// finds its own, overlapping part of the contacts (a population for waterfall tests).
    /// </summary>
    public FoundShare? Population
    {
        get { lock (gate) return population; }
        set { lock (gate) population = value; }
    }

    /// <summary>How long a job takes from submit to completion; its leads finish evenly spread over it.</summary>
    public TimeSpan ProcessingDelay
    {
        get { lock (gate) return processingDelay; }
        set { lock (gate) processingDelay = NotNegative(value); }
    }

    /// <summary>Up to this much is added at random to each job's processing time.</summary>
    public TimeSpan ProcessingJitter
    {
        get { lock (gate) return processingJitter; }
        set { lock (gate) processingJitter = NotNegative(value); }
    }

    public ContactFieldNaming ContactFieldNaming
    {
        get { lock (gate) return contactFieldNaming; }
        set { lock (gate) contactFieldNaming = Defined(value); }
    }

    /// <summary>Extra identical webhook POSTs after a successful one (nothing documented rules duplicates out).</summary>
    public int DuplicateDeliveries
    {
        get { lock (gate) return duplicateDeliveries; }
        set { lock (gate) duplicateDeliveries = NotNegative(value); }
    }

    /// <summary>Send no webhooks at all: results are only pollable.</summary>
    public bool DropWebhooks
    {
        get { lock (gate) return dropWebhooks; }
        set { lock (gate) dropWebhooks = value; }
    }

    /// <summary>
    /// With N above 0, every Nth job (the Nth, 2Nth, ... created) never sends a webhook, as if all its
    /// deliveries were lost: its results are only pollable. 10 loses the webhooks of exactly 10% of the jobs.
    /// </summary>
    public int LoseWebhooksOfEvery
    {
        get { lock (gate) return loseWebhooksOfEvery; }
        set { lock (gate) loseWebhooksOfEvery = NotNegative(value); }
    }

    /// <summary>The "account's default webhook" used when a submit has no <c>webhookUrl</c>; null: results are only pollable.</summary>
    public string? DefaultWebhookUrl
    {
        get { lock (gate) return defaultWebhookUrl; }
        set { lock (gate) defaultWebhookUrl = value is null ? null : HttpUrl(value); }
    }

    /// <summary>Precept does not document the name of the "unprocessed leads" list of a credit-capped 202.</summary>
    public string UnprocessedFieldName
    {
        get { lock (gate) return unprocessedFieldName; }
        set
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value);
            lock (gate) unprocessedFieldName = value;
        }
    }

    /// <summary>The first webhook retry waits this long, each later one twice the one before.</summary>
    public TimeSpan WebhookRetryBaseDelay
    {
        get { lock (gate) return webhookRetryBaseDelay; }
        set { lock (gate) webhookRetryBaseDelay = NotNegative(value); }
    }

    /// <summary>
    /// How long an accepted submit takes to answer (a slow API): the job is created, charged and running at
    /// once; its 202 comes this much later. What a submit in flight during a shutdown looks like.
    /// </summary>
    public TimeSpan SubmitLatency
    {
        get { lock (gate) return submitLatency; }
        set { lock (gate) submitLatency = NotNegative(value); }
    }

    /// <summary>
    /// <c>GET /v1/jobs?name=</c> returns only the jobs of that name. Not documented (providers.md §2.2 (c)): off, the
    /// name is ignored like any unknown parameter and the listing shows every recent job.
    /// </summary>
    public bool ListFiltersByName
    {
        get { lock (gate) return listFiltersByName; }
        set { lock (gate) listFiltersByName = value; }
    }

    /// <summary>Each listed job carries its <c>name</c> (the listing's fields are not documented).</summary>
    public bool ListShowsName
    {
        get { lock (gate) return listShowsName; }
        set { lock (gate) listShowsName = value; }
    }

    public JobListShape ListShape
    {
        get { lock (gate) return listShape; }
        set { lock (gate) listShape = Defined(value); }
    }

    /// <summary>The most jobs one page of <c>GET /v1/jobs</c> shows, whatever <c>limit</c> asks.</summary>
    public int ListPageSize
    {
        get { lock (gate) return listPageSize; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            lock (gate) listPageSize = value;
        }
    }

    /// <summary><c>GET /v1/jobs/{id}</c> carries the job's <c>name</c>: seen only in Precept's MCP client ([S]), not in the reference.</summary>
    public bool JobShowsName
    {
        get { lock (gate) return jobShowsName; }
        set { lock (gate) jobShowsName = value; }
    }

    /// <summary>How the phone numbers of result items are written (see <see cref="Precept.PhoneStyle"/>).</summary>
    public PhoneStyle PhoneStyle
    {
        get { lock (gate) return phoneStyle; }
        set { lock (gate) phoneStyle = Defined(value); }
    }

    /// <summary>
    /// Result items carry the lead's <c>customData</c> back (as <c>custom_data</c> or <c>customData</c>, by
    /// <see cref="ContactFieldNaming"/>). Documented for company jobs only; for leads it is [S].
    /// </summary>
    public bool EchoCustomData
    {
        get { lock (gate) return echoCustomData; }
        set { lock (gate) echoCustomData = value; }
    }

    /// <summary>
    /// Jobs that end while this is on are held open: they work out their results as usual (seen in
    /// <see cref="PreceptSimulator.Jobs"/>), but <c>GET /v1/jobs/{id}</c> and the listing show them still
    /// <c>processing</c>, with no results, and they send no webhook. Turning it off releases them: they show as ended,
    /// with their results, and their webhooks go out (unless <see cref="DropWebhooks"/>). Not a vendor behaviour (a job
    /// slow to end looks like this to a client): the benchmark uses it to post callbacks to jobs that stay open.
    /// </summary>
    public bool HoldJobsOpen
    {
        get { lock (gate) return holdJobsOpen; }
        set { lock (gate) Hold(value); }
    }

    /// <summary>Under the lock: null when nothing is held, else a task that completes once <see cref="HoldJobsOpen"/> is turned off.</summary>
    internal Task? HeldUntil => holdJobsOpen ? release.Task : null;

    void Hold(bool on)
    {
        if (on == holdJobsOpen)
            return;
        holdJobsOpen = on;
        if (on)
            release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        else
            release.TrySetResult();
    }

    /// <summary>
    /// Only what Precept's reference documents, every open question answered the least convenient way for a client:
    /// the job listing ignores <c>name</c> and paging and shows no names, a job read shows no name, results echo no
    /// custom data, and contact fields use the camelCase names of the enrich page.
    /// </summary>
    public void UseDocumentedOnly()
    {
        lock (gate)
        {
            listFiltersByName = false;
            listShowsName = false;
            listShape = JobListShape.BareArray;
            jobShowsName = false;
            echoCustomData = false;
            contactFieldNaming = ContactFieldNaming.Camel;
        }
    }

    [MemberNotNull(nameof(unprocessedFieldName))]
    internal void RestoreDefaults()
    {
        lock (gate)
        {
            credits = 1_000_000;
            defaultOutcome = LeadOutcome.Found;
            population = null;
            processingDelay = TimeSpan.FromMilliseconds(300);
            processingJitter = TimeSpan.Zero;
            contactFieldNaming = ContactFieldNaming.Snake;
            phoneStyle = PhoneStyle.E164;
            duplicateDeliveries = 0;
            dropWebhooks = false;
            loseWebhooksOfEvery = 0;
            defaultWebhookUrl = null;
            unprocessedFieldName = "unprocessed";
            webhookRetryBaseDelay = TimeSpan.FromMilliseconds(200);
            submitLatency = TimeSpan.Zero;
            listFiltersByName = true;
            listShowsName = true;
            listShape = JobListShape.JobsObject;
            listPageSize = 100;
            jobShowsName = true;
            echoCustomData = true;
            Hold(false);
        }
    }

    internal static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    static string HttpUrl(string value) =>
        IsHttpUrl(value) ? value : throw new ArgumentException("Must be an absolute http(s) URL.", nameof(value));

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

    static T Defined<T>(T value) where T : struct, Enum =>
        Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Not a defined value.");
}
