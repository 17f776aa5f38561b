using EnrichmentRelay.Budgets;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Costs;

/// <summary>The spans the report covers, by the names the route and the dashboard use.</summary>
public static class CostWindows
{
    public static readonly IReadOnlyDictionary<string, TimeSpan> All = new Dictionary<string, TimeSpan>
    {
        ["1h"] = TimeSpan.FromHours(1),
        ["1d"] = TimeSpan.FromDays(1),
        ["30d"] = TimeSpan.FromDays(30),
    };

    public const string Default = "1d";

    public static string Names => string.Join(", ", All.Keys);
}

/// <summary>What one provider's attempts that ended in the window asked for, found and cost.</summary>
/// <param name="Requests">Attempts that ended in the window, whatever their outcome.</param>
/// <param name="ContactsFound">Fields answered: a request that found an email and a phone counts 2.</param>
/// <param name="Credits">Everything the provider charged in the window: per attempt, plus per job where it charges per job (Precept).</param>
/// <param name="CreditsPerFound">Credits / contacts found; null when nothing was found.</param>
public sealed record ProviderCosts(string Provider, int Requests, int ContactsFound, decimal Credits, decimal? CreditsPerFound,
    IReadOnlyList<FieldCosts> Fields);

/// <summary>One field of one provider.</summary>
/// <param name="Requests">Attempts that asked for this field.</param>
/// <param name="Found">Of those, the ones that found at least one value of it.</param>
/// <param name="HitRate">Found / requests; null when none asked.</param>
/// <param name="Credits">
/// Credits of the attempts that asked for this field alone and carry their own charge: an attempt asking for both fields
/// is charged once for both, and a provider that charges per job (Precept) charges no attempt, neither of which can be
/// split, so they count only in <see cref="ProviderCosts.Credits"/>. Null when no such attempt ended in the window.
/// </param>
/// <param name="CreditsPerFound">Credits / found of those attempts; null when they found nothing.</param>
public sealed record FieldCosts(string Field, int Requests, int Found, double? HitRate, decimal? Credits, decimal? CreditsPerFound);

/// <summary>What the identity cache (and identical requests sharing one call) answered in the window, with no call.</summary>
/// <param name="Hits">Attempts answered from the cache (one per provider that originally answered a request).</param>
/// <param name="FieldsAnswered">Fields those attempts answered (found or not found).</param>
/// <param name="Found">Of those, the fields answered with a contact.</param>
/// <param name="CreditsSaved">What asking again would have cost: each original provider's price (the budget price table) for the fields answered.</param>
public sealed record CacheSavings(int Hits, int FieldsAnswered, int Found, decimal CreditsSaved);

/// <param name="Providers">What the providers were asked and charged; answers from the cache are in <paramref name="Cache"/>, not here.</param>
public sealed record CostReport(string Window, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<ProviderCosts> Providers, CacheSavings Cache);

/// <summary>
/// The cost report from the ledger: per provider and field, over a window ending now. Counts and sums run in the
/// database; only what needs the stored request (which fields it asked for) is read per attempt, and only the columns
/// the report uses.
/// </summary>
public sealed class CostReports(RelayDbContext db, TimeProvider time, BudgetSettings prices)
{
    static readonly EnrichmentField[] Fields = Enum.GetValues<EnrichmentField>();

    /// <param name="window">One of <see cref="CostWindows.All"/>.</param>
    public async Task<CostReport> ForWindowAsync(string window, CancellationToken ct)
    {
        var span = CostWindows.All[window];
        var to = time.GetUtcNow();
        var from = to - span;

        var attempts = await db.Attempts.AsNoTracking()
            .Where(a => a.CompletedAt > from && a.CompletedAt <= to)
            .Join(db.Requests, a => a.RequestId, r => r.RequestId, (a, r) => new
            {
                a.Provider,
                a.CreditsCharged,
                a.FromCache,
                r.RequestJson,
                // What the attempt itself asked and found (a waterfall's attempts each ask for what is still missing);
                // an attempt ended before attempts kept them is read from its request.
                AttemptFields = a.FieldsJson,
                EmailFound = a.FieldsJson != null ? a.EmailsJson != null && a.EmailsJson != "[]" : r.EmailsJson != null && r.EmailsJson != "[]",
                PhoneFound = a.FieldsJson != null ? a.PhonesJson != null && a.PhonesJson != "[]" : r.PhonesJson != null && r.PhonesJson != "[]",
            })
            .ToListAsync(ct);

        // Summed as REAL in the database: SQLite stores the amounts so and cannot sum decimals.
        var perJob = await db.ProviderJobs.AsNoTracking()
            .Where(j => j.CreditsCharged != null && j.CompletedAt > from && j.CompletedAt <= to)
            .GroupBy(j => j.Provider)
            .Select(g => new { Provider = g.Key, Credits = g.Sum(j => (double)j.CreditsCharged!.Value) })
            .ToDictionaryAsync(g => g.Provider, g => (decimal)g.Credits, ct);

        var cached = attempts.Where(a => a.FromCache).Select(a => LedgerViews.ReadFields(a.AttemptFields) is var asked
            ? (a.Provider, Asked: asked, Found: asked.Count(f => f == EnrichmentField.Email ? a.EmailFound : a.PhoneFound)) : default).ToList();
        var cache = new CacheSavings(cached.Count, cached.Sum(c => c.Asked.Count), cached.Sum(c => c.Found),
            cached.Sum(c => prices.For(c.Provider).WorstCase(c.Asked)));

        var rows = attempts.Where(a => !a.FromCache).Select(a =>
        {
            var asked = a.AttemptFields is not null ? LedgerViews.ReadFields(a.AttemptFields) : LedgerViews.ReadRequest(a.RequestJson).Fields ?? [];
            return new
            {
                a.Provider,
                Credits = a.CreditsCharged,
                Asked = asked,
                Found = asked.Where(f => f == EnrichmentField.Email ? a.EmailFound : a.PhoneFound).ToList(),
            };
        }).ToList();

        var providers = rows.Select(r => r.Provider).Concat(perJob.Keys).Distinct().Order()
            .Select(provider =>
            {
                var of = rows.Where(r => r.Provider == provider).ToList();
                var found = of.Sum(r => r.Found.Count);
                var credits = of.Sum(r => r.Credits ?? 0m) + perJob.GetValueOrDefault(provider);
                var fields = Fields.Select(field =>
                    {
                        var asking = of.Where(r => r.Asked.Contains(field)).ToList();
                        var fieldFound = asking.Count(r => r.Found.Contains(field));
                        var alone = asking.Where(r => r.Asked.Count == 1 && r.Credits is not null).ToList();
                        decimal? aloneCredits = alone.Count == 0 ? null : alone.Sum(r => r.Credits!.Value);
                        var aloneFound = alone.Count(r => r.Found.Count > 0);
                        return new FieldCosts(RelayMetrics.Tag(field), asking.Count, fieldFound,
                            asking.Count == 0 ? null : (double)fieldFound / asking.Count,
                            aloneCredits, aloneFound == 0 ? null : aloneCredits / aloneFound);
                    })
                    .ToList();
                return new ProviderCosts(RelayMetrics.Tag(provider), of.Count, found, credits, found == 0 ? null : credits / found, fields);
            })
            .ToList();

        return new CostReport(window, from, to, providers, cache);
    }
}
