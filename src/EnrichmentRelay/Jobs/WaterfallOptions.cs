using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Jobs;

/// <summary>How a request goes from one provider to the next (the waterfall).</summary>
public sealed class WaterfallOptions
{
    public const string Section = "Waterfall";

    /// <summary>
    /// The order for requests that name no <c>providers</c> (<c>Waterfall__DefaultOrder__0=lance</c>, …). Empty: such a
    /// request goes to one provider, chosen by what the lead carries (Woodpecker's uid, else Lance's person id, else Precept).
    /// </summary>
    public List<ProviderName> DefaultOrder { get; set; } = [];

    /// <summary>
    /// An attempt that <c>failed</c> or <c>timedOut</c> goes on to the next provider too. Off: it ends the request with
    /// that outcome and its reason (the provider may yet have worked the lead; the next one would charge again).
    /// </summary>
    public bool MoveOnFailure { get; set; }
}
