using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// Requests for a Lance person go out as manual-selection bulk calls, one per field; a request for
/// email and phone is two Lance tasks and completes once, when both are terminal.
/// </summary>
public sealed class LanceProvider(LanceClient client, IOptions<LanceOptions> options, ILogger<LanceProvider> logger) : IEnrichmentProvider
{
    public ProviderName Name => ProviderName.Lance;
    public string Lane => LanceTasks.Lane;
    public int MaxBatchSize => options.Value.BatchSize;
    public TimeSpan FlushWindow => options.Value.FlushWindow;

    public string? WhyCannotServe(EnrichmentRequested request) =>
        Guid.TryParse(request.Lead?.LancePersonId, out _) ? null : "needs lead.lancePersonId (a Lance person uuid).";

    public async Task<SubmitResult> SubmitAsync(ProviderJobRecord job, string callbackToken, IReadOnlyList<PendingLead> leads, CancellationToken ct)
    {
        var tasks = leads.ToDictionary(l => l.RequestId, l => LanceTasks.Initial(l.Request));
        foreach (var field in LanceTasks.LanceFields)
        {
            var waiting = leads.Where(l => tasks[l.RequestId].ContainsKey(field))
                .Select(l => (l.Request.Lead!.LancePersonId!, tasks[l.RequestId]))
                .ToList();
            if (waiting.Count > 0)
                await LanceTasks.SendAsync(client, field, waiting, logger, ct);
        }

        // Reused records may already be finished: those requests complete now, without waiting for a poll.
        var people = new Dictionary<string, LancePerson?>();
        var completed = new Dictionary<Guid, CompletionResult>();
        foreach (var lead in leads)
            if (await LanceTasks.CompleteAsync(client, lead.Request.Lead!.LancePersonId!, tasks[lead.RequestId], people, ct) is { } result)
                completed[lead.RequestId] = result;

        return new SubmitResult(SubmitStatus.Accepted, Completed: completed,
            ProviderState: tasks.ToDictionary(t => t.Key, t => LanceTasks.Write(t.Value)));
    }
}
