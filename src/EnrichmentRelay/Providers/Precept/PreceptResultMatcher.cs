using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// Finds the request a Precept result item is for. Our RequestId rides in <c>customData.rid</c>, but only [S] sources
/// say Precept echoes custom data on lead results, so an item without it is matched by what Precept echoes of the lead
/// (its LinkedIn URL, else name + company), among the job's own requests. Duplicates of one person in a job are
/// matched one item each, in order.
/// </summary>
public sealed class PreceptResultMatcher
{
    readonly IReadOnlyDictionary<Guid, EnrichmentRequestRecord> requests;
    readonly List<(EnrichmentRequestRecord Request, LeadIdentity Identity)> identities;
    readonly HashSet<Guid> matched = [];

    public PreceptResultMatcher(IReadOnlyDictionary<Guid, EnrichmentRequestRecord> requests)
    {
        this.requests = requests;
        identities = requests.Values.Select(r => (r, IdentityOf(LedgerViews.ReadRequest(r)))).ToList();
    }

    /// <summary>The request the item is for; null when it carries neither a RequestId of this job nor a lead of it.</summary>
    public EnrichmentRequestRecord? Match(JsonElement item)
    {
        var request = PreceptResults.RequestIdOf(item) is { } rid
            ? requests.GetValueOrDefault(rid)
            : ByIdentity(PreceptResults.IdentityOf(item));
        if (request is not null)
            matched.Add(request.RequestId);
        return request;
    }

    EnrichmentRequestRecord? ByIdentity(LeadIdentity echoed)
    {
        var candidates = identities.Where(x => x.Identity.SamePersonAs(echoed)).Select(x => x.Request).ToList();
        // A person twice in a job: each item takes a request no earlier item took, open ones first; a repeat of an
        // item already applied finds them all taken and lands on a completed request, which it leaves alone.
        return candidates.FirstOrDefault(r => !matched.Contains(r.RequestId) && r.State != RequestState.Completed)
               ?? candidates.FirstOrDefault(r => !matched.Contains(r.RequestId))
               ?? candidates.FirstOrDefault();
    }

    /// <summary>
    /// Whether a Precept job read back is the one a lost submit created: its name is ours, or, where Precept shows no
    /// name, its results carry our RequestIds, or hold exactly our leads. Null while it cannot tell (no name, no results yet).
    /// </summary>
    public static bool? IsJobOf(PreceptJobReport report, ProviderJobRecord job, IReadOnlyDictionary<Guid, EnrichmentRequestRecord> requests)
    {
        if (report.Name is not null)
            return report.Name == job.Name;
        if (report.Results.Count == 0)
            return null;
        if (report.Results.Any(item => PreceptResults.RequestIdOf(item) is { } rid && requests.ContainsKey(rid)))
            return true;
        if (report.Results.Any(item => PreceptResults.RequestIdOf(item) is not null))
            return false;
        // No echo at all: the same number of leads, and every one of ours among them.
        if (report.Total is { } total && total != job.RequestCount)
            return false;
        var echoed = report.Results.Select(PreceptResults.IdentityOf).ToList();
        var skipped = report.Skipped ?? 0;
        var found = requests.Values.Count(r => echoed.Any(e => e.SamePersonAs(IdentityOf(LedgerViews.ReadRequest(r)))));
        return found > 0 && found + skipped >= requests.Count;
    }

    public static LeadIdentity IdentityOf(EnrichmentRequested request)
    {
        var lead = request.Lead!;
        return LeadIdentity.Of(lead.LinkedInUrl, lead.FirstName, lead.LastName, lead.CompanyName, lead.CompanyDomain);
    }
}
