namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// Woodpecker processes one request at a time per key and drops what waits too long, so the relay sends it one request
/// at a time, submits and polls alike: one at a time within this process, and one at a time across every instance
/// sharing the ledger (the <see cref="ICrossInstanceLock"/>, held for the call).
/// </summary>
public sealed class WoodpeckerRequestGate(ICrossInstanceLock instances)
{
    /// <summary>The lock every instance agrees on for Woodpecker's turn (any fixed 64-bit number not used for anything else).</summary>
    const long InstancesLockKey = 0x52_45_4C_41_59_57_50; // "RELAYWP"

    readonly ICrossInstanceLock instances = instances;
    readonly SemaphoreSlim turn = new(1, 1);

    /// <summary>Sits outermost in the client's pipeline, so that retries wait their turn too.</summary>
    public sealed class Handler(WoodpeckerRequestGate gate) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            await gate.turn.WaitAsync(ct);
            try
            {
                await using var shared = await gate.instances.TakeAsync(InstancesLockKey, ct);
                return await base.SendAsync(request, ct);
            }
            finally
            {
                gate.turn.Release();
            }
        }
    }
}
