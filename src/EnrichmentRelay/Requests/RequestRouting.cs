using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Requests;

/// <summary>
/// Chooses the provider for a request. Kept in one place so the planned waterfall (fall back to the
/// next provider on NotFound) changes only this class.
/// </summary>
public sealed class RequestRouting(IEnumerable<IEnrichmentProvider> providers)
{
    readonly IReadOnlyList<IEnrichmentProvider> enabled = providers.ToList();

    public IReadOnlyCollection<ProviderName> Enabled => enabled.Select(p => p.Name).ToList();

    /// <summary>The provider and lane to use, or the reason no enabled provider can take the lead.</summary>
    public (IEnrichmentProvider? Provider, string? WhyNot) Route(EnrichmentRequested request)
    {
        if (request.Lead is null)
            return (null, "A lead is required.");

        var reasons = new List<string>();
        foreach (var name in Preference(request))
        {
            var lanes = enabled.Where(p => p.Name == name).ToList();
            if (lanes.Count == 0)
            {
                reasons.Add($"{name} is not enabled in this relay.");
                continue;
            }
            var whyNots = new List<string>();
            foreach (var lane in lanes)
            {
                if (lane.WhyCannotServe(request) is not { } whyNot)
                    return (lane, null);
                whyNots.Add(whyNot);
            }
            reasons.Add($"{name}: {string.Join(" Or: ", whyNots.Distinct())}");
        }
        return (null, "No enabled provider can identify this lead. " + string.Join(" ", reasons));
    }

    static IEnumerable<ProviderName> Preference(EnrichmentRequested request)
    {
        if (request.Providers is { Count: > 0 } chosen)
            return chosen.Distinct();

        // With no list: a lead that carries a provider's own id goes to that provider first.
        var order = new List<ProviderName>();
        if (request.Lead?.WoodpeckerLead is not null)
            order.Add(ProviderName.Woodpecker);
        if (!string.IsNullOrWhiteSpace(request.Lead?.LancePersonId))
            order.Add(ProviderName.Lance);
        order.Add(ProviderName.Precept);
        return order;
    }
}
