namespace EnrichmentRelay.Hosting;

/// <summary>
/// Lets a writer wake a background loop at once instead of waiting for its next poll. Loops still poll
/// on a timer, because work can also come from another instance or from before a restart.
/// </summary>
public abstract class WakeSignal
{
    readonly SemaphoreSlim pulses = new(0, 1);

    public void Pulse()
    {
        if (pulses.CurrentCount > 0)
            return; // already pulsed; one wake-up is enough
        try { pulses.Release(); }
        catch (SemaphoreFullException) { /* pulsed meanwhile by another caller */ }
    }

    /// <summary>Waits for a pulse, however long it takes.</summary>
    public Task WaitAsync(CancellationToken ct) => pulses.WaitAsync(ct);

    /// <summary>Waits for a pulse or for <paramref name="timeout"/> on <paramref name="time"/>, whichever is first.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        if (timeout <= TimeSpan.Zero)
            return;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pulse = pulses.WaitAsync(linked.Token);
        var delay = Task.Delay(timeout, time, linked.Token);
        await Task.WhenAny(pulse, delay);
        await linked.CancelAsync();
        ct.ThrowIfCancellationRequested();
    }
}

/// <summary>New requests are waiting for a provider batch.</summary>
public sealed class BatchFlushSignal : WakeSignal;

/// <summary>New rows are waiting in the outbox.</summary>
public sealed class OutboxSignal : WakeSignal;

/// <summary>New provider callbacks are waiting to be applied.</summary>
public sealed class CallbackSignal : WakeSignal;

/// <summary>A collection (a scrape) reported the ledger gauges' readings: the sampler may take the next.</summary>
public sealed class LedgerGaugesCollected : WakeSignal;
