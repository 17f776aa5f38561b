namespace EnrichmentRelay.Sandbox.Lance;

/// <summary>
/// Knobs tests turn while enrichments run. Every access takes the simulator's lock; Reset restores the defaults
/// in place, so a reference a test holds stays live.
/// </summary>
public sealed class LanceSettings
{
    readonly object gate;
    decimal credits;
    TimeSpan processingDelay;
    LanceOutcome defaultOutcome;
    bool preexistingContacts;

    internal LanceSettings(object gate)
    {
        this.gate = gate;
        RestoreDefaults();
    }

    /// <summary>The balance: each new enrichment costs 1 credit, charged at submit.</summary>
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
        set { lock (gate) defaultOutcome = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value)); }
    }

    /// <summary>A person created from now on starts with one email another organization found.</summary>
    public bool PreexistingContacts
    {
        get { lock (gate) return preexistingContacts; }
        set { lock (gate) preexistingContacts = value; }
    }

    internal void RestoreDefaults()
    {
        lock (gate)
        {
            credits = 1_000_000;
            processingDelay = TimeSpan.FromSeconds(1);
            defaultOutcome = LanceOutcome.Found;
            preexistingContacts = false;
        }
    }
}
