using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Jobs;

/// <summary>Where a request goes: the provider and lane to ask, or why none can be; and the providers passed over on the way.</summary>
public sealed record ProviderRoute(IEnrichmentProvider? Provider, string? WhyNot, IReadOnlyList<SkippedProvider> Skipped);

/// <summary>
/// The order of providers a request tries, and the rule for going on to the next one after an attempt ends: a field
/// not found, no credits, or a lead the provider refuses go on (asking the next provider that can identify the lead only
/// for the fields still missing); <c>failed</c> and <c>timedOut</c> only when <see cref="WaterfallOptions.MoveOnFailure"/> says so.
/// </summary>
public sealed class Waterfall(IEnumerable<IEnrichmentProvider> providers, IOptions<WaterfallOptions> options)
{
    readonly IReadOnlyList<IEnrichmentProvider> enabled = providers.ToList();

    public IReadOnlyCollection<ProviderName> Enabled => enabled.Select(p => p.Name).Distinct().ToList();

    /// <summary>The providers the request tries, in order: its own list, else the configured default; null when neither names any.</summary>
    public IReadOnlyList<ProviderName>? OrderOf(EnrichmentRequested request) =>
        request.Providers is { Count: > 0 } chosen ? chosen.Distinct().ToList()
        : options.Value.DefaultOrder.Count > 0 ? options.Value.Order.Distinct().ToList()
        : null;

    /// <summary>The first provider of the request's order that can identify the lead, and those passed over before it.</summary>
    public ProviderRoute First(EnrichmentRequested request) =>
        request.Lead is null ? new ProviderRoute(null, "A lead is required.", []) : Pick(request, OrderOf(request) ?? Preference(request));

    /// <summary>
    /// After an attempt at <paramref name="after"/> ended with <paramref name="outcome"/>, leaving <paramref name="missing"/>
    /// unfound: the next provider to ask for them, or none (the request ends), with the providers passed over.
    /// </summary>
    public ProviderRoute Next(EnrichmentRequested request, ProviderName after, Outcome outcome, IReadOnlyList<EnrichmentField> missing)
    {
        if (missing.Count == 0)
            return new ProviderRoute(null, "Every field asked for was found.", []);
        if (!MovesOn(outcome))
            return new ProviderRoute(null, $"An attempt that ends {outcome} ends the request (Waterfall:MoveOnFailure is off).", []);
        // A request without an order of its own or a configured one was routed to a single provider.
        var order = OrderOf(request)?.ToList() ?? [];
        var at = order.IndexOf(after);
        if (at < 0)
            return new ProviderRoute(null, "The request has no waterfall.", []);
        return Pick(request with { Fields = missing }, order.Skip(at + 1));
    }

    /// <summary>Whether an attempt that ended so goes on to the next provider (for the fields it did not find).</summary>
    public bool MovesOn(Outcome outcome) => outcome switch
    {
        Outcome.Found or Outcome.NotFound or Outcome.InsufficientCredits or Outcome.Rejected => true,
        Outcome.Failed or Outcome.TimedOut => options.Value.MoveOnFailure,
        _ => false,
    };

    /// <summary>The fields an attempt asked for that it did not find.</summary>
    public static IReadOnlyList<EnrichmentField> Missing(IReadOnlyList<EnrichmentField> asked, CompletionResult result) =>
        asked.Where(f => (f == EnrichmentField.Email ? result.Emails : result.Phones) is not { Count: > 0 }).ToList();

    /// <summary>
    /// The request's result from all its ended attempts: every contact any of them found; <c>found</c> when one was
    /// found; else <c>notFound</c> when a provider looked and found nothing, else how the last attempt ended. A request
    /// with one attempt gets that attempt's result as it is.
    /// </summary>
    public static CompletionResult Merge(IReadOnlyList<RequestAttemptRecord> attempts, CompletionResult last)
    {
        var ended = attempts.Where(a => !a.IsOpen).OrderBy(a => a.Number).ToList();
        if (ended.Count <= 1)
            return last;
        var emails = ended.SelectMany(a => LedgerViews.ReadList(a.EmailsJson)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var phones = ended.SelectMany(a => LedgerViews.ReadList(a.PhonesJson)).Distinct(StringComparer.Ordinal).ToList();
        decimal? credits = ended.Any(a => a.CreditsCharged is not null) ? ended.Sum(a => a.CreditsCharged ?? 0m) : null;
        if (emails.Count + phones.Count > 0)
            return new CompletionResult(Outcome.Found, emails, phones, last.Outcome == Outcome.Found ? last.Detail : null, credits);
        var outcome = ended.Any(a => a.Outcome == Outcome.NotFound) ? Outcome.NotFound : last.Outcome;
        var detail = outcome == last.Outcome ? last.Detail
            : string.Join(" ", ended.Select(a => $"{a.Provider}: {a.Outcome}{(a.Detail is null ? "" : $" ({a.Detail})")}."));
        return new CompletionResult(outcome, Detail: detail, CreditsCharged: credits);
    }

    ProviderRoute Pick(EnrichmentRequested request, IEnumerable<ProviderName> candidates)
    {
        var skipped = new List<SkippedProvider>();
        var reasons = new List<string>();
        foreach (var name in candidates)
        {
            var lanes = enabled.Where(p => p.Name == name).ToList();
            if (lanes.Count == 0)
            {
                skipped.Add(new SkippedProvider { Provider = name, Reason = "not enabled in this relay." });
                reasons.Add($"{name} is not enabled in this relay.");
                continue;
            }
            var whyNots = new List<string>();
            foreach (var lane in lanes)
            {
                if (lane.WhyCannotServe(request) is not { } whyNot)
                    return new ProviderRoute(lane, null, skipped);
                whyNots.Add(whyNot);
            }
            var reason = string.Join(" Or: ", whyNots.Distinct());
            skipped.Add(new SkippedProvider { Provider = name, Reason = reason });
            reasons.Add($"{name}: {reason}");
        }
        return new ProviderRoute(null, "No enabled provider can identify this lead. " + string.Join(" ", reasons), skipped);
    }

    /// <summary>With no order: a lead that carries a provider's own id goes to that provider first.</summary>
    static List<ProviderName> Preference(EnrichmentRequested request)
    {
        var order = new List<ProviderName>();
        if (request.Lead?.WoodpeckerLead is not null)
            order.Add(ProviderName.Woodpecker);
        if (!string.IsNullOrWhiteSpace(request.Lead?.LancePersonId))
            order.Add(ProviderName.Lance);
        order.Add(ProviderName.Precept);
        return order;
    }
}
