using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Providers;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Requests;

/// <summary>Chooses the first provider for a request at intake: the first of its waterfall (<see cref="Waterfall"/>) that can identify the lead.</summary>
public sealed class RequestRouting(IEnumerable<IEnrichmentProvider> providers, IOptions<WaterfallOptions>? options = null)
{
    readonly Waterfall waterfall = new(providers, options ?? Options.Create(new WaterfallOptions()));

    public IReadOnlyCollection<ProviderName> Enabled => waterfall.Enabled;

    /// <summary>The provider and lane to use, or the reason no enabled provider can take the lead.</summary>
    public (IEnrichmentProvider? Provider, string? WhyNot) Route(EnrichmentRequested request)
    {
        var route = waterfall.First(request);
        return (route.Provider, route.WhyNot);
    }
}
