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

    /// <summary>The provider to use, or the reason no enabled provider can take the lead.</summary>
    public (ProviderName? Provider, string? WhyNot) Route(EnrichmentRequested request)
    {
        if (request.Lead is null)
            return (null, "A lead is required.");

        var reasons = new List<string>();
        foreach (var name in Preference(request))
        {
            var provider = enabled.FirstOrDefault(p => p.Name == name);
            if (provider is null)
            {
                reasons.Add($"{name} is not enabled in this relay.");
                continue;
            }
            var whyNot = provider.WhyCannotIdentify(request.Lead);
            if (whyNot is null)
                return (name, null);
            reasons.Add($"{name}: {whyNot}");
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
