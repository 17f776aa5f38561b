namespace EnrichmentRelay.Providers;

/// <summary>
/// The moment a job's submit POST really leaves: after every queue in front of it (the pipeline's concurrency
/// limit, Woodpecker's one call at a time). Until then the job is only waiting, however old it is, and the POST is
/// let through only if the job is still this submit's to send: a sweep that took the job over first (its instance
/// looked dead) makes it stop before anything is sent, so the leads can never go out twice.
/// </summary>
public sealed class SubmitStart
{
    static readonly AsyncLocal<SubmitStart?> current = new();

    readonly Func<CancellationToken, Task<bool>> claim;
    Task<bool>? claimed;

    SubmitStart(Func<CancellationToken, Task<bool>> claim) => this.claim = claim;

    /// <summary>The submit the current async flow is sending, if any.</summary>
    public static SubmitStart? Current => current.Value;

    /// <summary>True once the claim failed: another writer owns the job and nothing was sent.</summary>
    public bool Abandoned { get; private set; }

    /// <summary>
    /// Marks the submit calls made in this async flow until disposed; <paramref name="claim"/> records the start in the
    /// ledger and answers false when the job is no longer this submit's.
    /// </summary>
    public static IDisposable Begin(Func<CancellationToken, Task<bool>> claim, out SubmitStart start)
    {
        var previous = current.Value;
        start = new SubmitStart(claim);
        current.Value = start;
        return new Restore(previous);
    }

    /// <summary>Claims once per submit: a provider that makes several POSTs for one job (Lance) starts it with the first.</summary>
    internal async Task<bool> ClaimAsync(CancellationToken ct)
    {
        var ok = await (claimed ??= claim(ct));
        Abandoned = !ok;
        return ok;
    }

    sealed class Restore(SubmitStart? previous) : IDisposable
    {
        public void Dispose() => current.Value = previous;
    }
}

/// <summary>Thrown instead of sending a submit whose job another writer took over: provably nothing was sent.</summary>
public sealed class SubmitAbandonedException() : Exception("The job was taken over before its submit left; nothing was sent.");

/// <summary>
/// The innermost handler of every provider client: a POST made while a <see cref="SubmitStart"/> is current records
/// the job's start (or stops, sending nothing) just before it goes on the wire.
/// </summary>
public sealed class SubmitStartHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        if (request.Method == HttpMethod.Post && SubmitStart.Current is { } start && !await start.ClaimAsync(ct))
            throw new SubmitAbandonedException();
        return await base.SendAsync(request, ct);
    }
}
