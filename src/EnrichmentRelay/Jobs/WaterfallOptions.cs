using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Jobs;

/// <summary>How a request goes from one provider to the next (the waterfall).</summary>
public sealed class WaterfallOptions
{
    public const string Section = "Waterfall";

    /// <summary>
    /// The order for requests that name no <c>providers</c> (<c>Waterfall__DefaultOrder__0=lance</c>, …), by the providers'
    /// wire names. Empty: such a request goes to one provider, chosen by what the lead carries (Woodpecker's uid, else
    /// Lance's person id, else Precept). Names, not the enum: the configuration binder drops a list item it cannot
    /// convert without a word, and a misspelt provider must stop the relay instead.
    /// </summary>
    public List<string> DefaultOrder { get; set; } = [];

    /// <summary>
    /// An attempt that <c>failed</c> or <c>timedOut</c> goes on to the next provider too. Off: it ends the request with
    /// that outcome and its reason (the provider may yet have worked the lead; the next one would charge again).
    /// </summary>
    public bool MoveOnFailure { get; set; }

    /// <summary><see cref="DefaultOrder"/> as providers (validated at start-up).</summary>
    public IReadOnlyList<ProviderName> Order => DefaultOrder.Select(n => Parse(n) ?? throw new InvalidOperationException($"Unknown provider '{n}'.")).ToList();

    internal static ProviderName? Parse(string name) =>
        Enum.GetValues<ProviderName>().Cast<ProviderName?>().FirstOrDefault(p => string.Equals(p.ToString(), name.Trim(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>Every name of <see cref="WaterfallOptions.DefaultOrder"/> is a provider.</summary>
sealed class KnownProviders : IValidateOptions<WaterfallOptions>
{
    public ValidateOptionsResult Validate(string? name, WaterfallOptions options)
    {
        var unknown = options.DefaultOrder.Where(n => WaterfallOptions.Parse(n) is null).ToList();
        return unknown.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Waterfall:DefaultOrder names no provider '{string.Join("', '", unknown)}': use precept, woodpecker or lance.");
    }
}
