using EnrichmentRelay.Sandbox.Precept;

namespace EnrichmentRelay.Sandbox.Lance;

/// <summary>
/// Knobs tests turn while enrichments run. Every access takes the simulator's lock; Reset restores the defaults
/// in place, so a reference a test holds stays live.
/// <para>
/// Several knobs choose between readings of what Lance's pages leave open (providers.md §3, §5 questions 15 to 17):
/// the defaults are the sandbox's long-standing guesses, and <see cref="UseDocumentedOnly"/> turns each to the
/// least convenient behaviour the pages still allow, so the relay is tested against what is promised, not guessed.
/// </para>
/// </summary>
public sealed class LanceSettings
{
    readonly object gate;
    decimal credits;
    TimeSpan processingDelay;
    LanceOutcome defaultOutcome;
    FoundShare? population;
    bool preexistingContacts;
    LanceCharging charging;
    LanceErrorBody errorBody;
    LanceQueryOrder queryOrder;
    bool queryReturnsEveryRecord;
    LanceIdFormat recordIds;
    int unknownPersonReadStatus;
    LanceUnknownIds unknownIds;
    PhoneStyle phoneStyle;

    internal LanceSettings(object gate)
    {
        this.gate = gate;
        RestoreDefaults();
    }

    /// <summary>The balance: each new enrichment costs <see cref="LanceSimulator.CreditsPerEnrichment"/>, when <see cref="Charging"/> says.</summary>
    public decimal Credits
    {
        get { lock (gate) return credits; }
        set { lock (gate) credits = value; }
    }

    /// <summary>The longest an enrichment stays pending: item i of a call ends after ProcessingDelay × (1 + i % 4) / 4.</summary>
    public TimeSpan ProcessingDelay
    {
        get { lock (gate) return processingDelay; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            lock (gate) processingDelay = value;
        }
    }

    /// <summary>The outcome for (person, field) pairs without one set by <see cref="LanceSimulator.SetOutcome"/>.</summary>
    public LanceOutcome DefaultOutcome
    {
        get { lock (gate) return defaultOutcome; }
        set { lock (gate) defaultOutcome = Defined(value); }
    }

    /// <summary>
    /// Off (null) by default. Set, the (lead, field) pairs without an outcome of their own are found or not by
    /// <see cref="FoundShare.Finds"/>("lance", the person id, "email"/"phone") instead of by the default outcome: each provider
    /// finds its own, overlapping part of the contacts (a population for waterfall tests).
    /// </summary>
    public FoundShare? Population
    {
        get { lock (gate) return population; }
        set { lock (gate) population = value; }
    }

    /// <summary>A person created from now on starts with one email another organization found.</summary>
    public bool PreexistingContacts
    {
        get { lock (gate) return preexistingContacts; }
        set { lock (gate) preexistingContacts = value; }
    }

    /// <summary>
    /// When a new enrichment is paid for (§5.16): at submit, for every new record (the bulk page: "consumes credits
    /// based on the number of leads"), or only when it finishes with data (the batch page: "deducted per successful
    /// enrichment"). Either way credits are checked at submit for the new records, and the record carries its
    /// <c>creditTransactionId</c> from the moment it is paid for (null before, and for good if it never is).
    /// </summary>
    public LanceCharging Charging
    {
        get { lock (gate) return charging; }
        set { lock (gate) charging = Defined(value); }
    }

    /// <summary>The shape of every error body; the pages give the status and code, never the body (§3.4).</summary>
    public LanceErrorBody ErrorBody
    {
        get { lock (gate) return errorBody; }
        set { lock (gate) errorBody = Defined(value); }
    }

    /// <summary>The order of the batch query's answer, which the pages do not promise.</summary>
    public LanceQueryOrder QueryOrder
    {
        get { lock (gate) return queryOrder; }
        set { lock (gate) queryOrder = Defined(value); }
    }

    /// <summary>
    /// The batch query answers every record a task has had (an earlier failed one beside the newer pending one),
    /// not only the latest: the pages say the answer holds the tasks that have a record, not that it holds one each.
    /// </summary>
    public bool QueryReturnsEveryRecord
    {
        get { lock (gate) return queryReturnsEveryRecord; }
        set { lock (gate) queryReturnsEveryRecord = value; }
    }

    /// <summary>How enrichment and credit transaction ids look; the pages' examples mix uuids with <c>txn_456def</c>-like strings.</summary>
    public LanceIdFormat RecordIds
    {
        get { lock (gate) return recordIds; }
        set { lock (gate) recordIds = Defined(value); }
    }

    /// <summary>What reading a person Lance does not hold answers: 404 (the sandbox's guess) or 400; the pages say neither.</summary>
    public int UnknownPersonReadStatus
    {
        get { lock (gate) return unknownPersonReadStatus; }
        set { lock (gate) unknownPersonReadStatus = value is 400 or 404 ? value : throw new ArgumentOutOfRangeException(nameof(value), "400 or 404."); }
    }

    /// <summary>
    /// What a manual bulk call does with a well-formed id Lance holds no person for. Real ids come from Lance's own
    /// search (which upserts the persons), so this is about test data rather than a vendor behaviour the relay relies
    /// on; <see cref="UseDocumentedOnly"/> leaves it alone.
    /// </summary>
    public LanceUnknownIds UnknownIds
    {
        get { lock (gate) return unknownIds; }
        set { lock (gate) unknownIds = Defined(value); }
    }

    /// <summary>
    /// Every reading of what the pages leave open set to the least convenient one they still allow: charged only
    /// on success (the transaction id appears late), error bodies as plain text (no code to read), the query's
    /// answer shuffled and holding every record of a task, opaque non-uuid ids, and 400 for an unknown person.
    /// </summary>
    public void UseDocumentedOnly()
    {
        lock (gate)
        {
            charging = LanceCharging.OnDataFound;
            errorBody = LanceErrorBody.PlainText;
            queryOrder = LanceQueryOrder.Shuffled;
            queryReturnsEveryRecord = true;
            recordIds = LanceIdFormat.Opaque;
            unknownPersonReadStatus = 400;
        }
    }

    /// <summary>
    /// How the phones Lance finds are written on its person record. Its pages show none and say nothing of their format, so
    /// the sandbox plays both readings, as for Precept (<see cref="Precept.PhoneStyle"/>): E.164 (the default) or spaced.
    /// </summary>
    public PhoneStyle PhoneStyle
    {
        get { lock (gate) return phoneStyle; }
        set { lock (gate) phoneStyle = Defined(value); }
    }

    internal void RestoreDefaults()
    {
        lock (gate)
        {
            phoneStyle = PhoneStyle.E164;
            credits = 1_000_000;
            processingDelay = TimeSpan.FromSeconds(1);
            defaultOutcome = LanceOutcome.Found;
            population = null;
            preexistingContacts = false;
            charging = LanceCharging.AtSubmit;
            errorBody = LanceErrorBody.Nested;
            queryOrder = LanceQueryOrder.Reversed;
            queryReturnsEveryRecord = false;
            recordIds = LanceIdFormat.Uuid;
            unknownPersonReadStatus = 404;
            unknownIds = LanceUnknownIds.Create;
        }
    }

    static T Defined<T>(T value) where T : struct, Enum => Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value));
}
