using System.Text.Json.Nodes;
using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>Lead Finder leads (with a search <c>uid</c>) go to lead enrichment; results are polled.</summary>
public sealed class WoodpeckerLeadsProvider(WoodpeckerClient client, IOptions<WoodpeckerOptions> options) : IEnrichmentProvider
{
    public ProviderName Name => ProviderName.Woodpecker;
    public string Lane => WoodpeckerLeads.LeadsLane;
    public int MaxBatchSize => options.Value.BatchSize;
    public TimeSpan FlushWindow => options.Value.FlushWindow;

    public string? WhyCannotServe(EnrichmentRequested request) =>
        WoodpeckerLeads.UidOf(request) is null ? "needs lead.woodpeckerLead with its uid (lead enrichment)."
            : WoodpeckerLeads.EmailOnlyProblem(request);

    public async Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct)
    {
        var leads = call.Leads;
        var payload = new JsonArray(leads.Select(l => WoodpeckerLeads.LeadPayload(l.Request)).ToArray());
        var (response, failure) = await SubmitCalls.SendAsync("Woodpecker",
            token => client.QueueLeadEnrichmentsAsync(payload, options.Value.TargetCampaignIds, token), ct);
        if (failure is not null)
            return failure;
        using (response)
            return await WoodpeckerLeads.ReadQueueAnswerAsync(response!, leads, ct);
    }
}

/// <summary>Existing prospects (known by email, Woodpecker chosen) go to prospect enrichment.</summary>
public sealed class WoodpeckerProspectsProvider(WoodpeckerClient client, IOptions<WoodpeckerOptions> options) : IEnrichmentProvider
{
    public ProviderName Name => ProviderName.Woodpecker;
    public string Lane => WoodpeckerLeads.ProspectsLane;
    public int MaxBatchSize => options.Value.BatchSize;
    public TimeSpan FlushWindow => options.Value.FlushWindow;

    public string? WhyCannotServe(EnrichmentRequested request) =>
        WoodpeckerLeads.ProspectEmailOf(request) is null ? "needs lead.email of an existing prospect (prospect enrichment)."
            : WoodpeckerLeads.EmailOnlyProblem(request);

    public async Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct)
    {
        var leads = call.Leads;
        var payload = new JsonArray(leads.Select(l => WoodpeckerLeads.ProspectPayload(l.Request)).ToArray());
        var (response, failure) = await SubmitCalls.SendAsync("Woodpecker", token => client.QueueProspectEnrichmentsAsync(payload, token), ct);
        if (failure is not null)
            return failure;
        using (response)
            return await WoodpeckerLeads.ReadQueueAnswerAsync(response!, leads, ct);
    }
}
