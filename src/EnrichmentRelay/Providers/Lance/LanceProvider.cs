using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// Requests for a Lance person go out as manual-selection bulk calls, one per field; a request for
/// email and phone is two Lance tasks and completes once, when both are terminal.
/// </summary>
public sealed class LanceProvider(LanceTasks lance, IOptions<LanceOptions> options) : IEnrichmentProvider
{
    public ProviderName Name => ProviderName.Lance;
    public string Lane => LanceTasks.Lane;
    public int MaxBatchSize => options.Value.BatchSize;
    public TimeSpan FlushWindow => options.Value.FlushWindow;

    public string? WhyCannotServe(EnrichmentRequested request) =>
        Guid.TryParse(request.Lead?.LancePersonId, out _) ? null : "needs lead.lancePersonId (a Lance person uuid).";

    /// <summary>
    /// Always Accepted: a task whose call failed stays <c>unsent</c> in the request's state, and the poll looks it up
    /// and sends it; Lance's own refusals (400, 402) complete their requests here.
    /// </summary>
    public async Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct)
    {
        var leads = call.Leads;
        var sets = leads.ToDictionary(l => l.RequestId, l => new LanceTaskSet(l.Request.Lead!.LancePersonId!, LanceTasks.Initial(l.Request)));
        await lance.SendAsync(sets.Values.ToList(), ct);

        // Records Lance reused may already be finished: those requests complete now, without waiting for a poll.
        var results = await lance.CompleteAsync(sets.Values.ToList(), ct);
        return new SubmitResult(SubmitStatus.Accepted,
            Completed: sets.Where(s => results.ContainsKey(s.Value)).ToDictionary(s => s.Key, s => results[s.Value]),
            ProviderState: sets.ToDictionary(s => s.Key, s => LanceTasks.Write(s.Value.Tasks)));
    }
}
