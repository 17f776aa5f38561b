using System.Text.Json;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// Finds the request a Precept result item is for. Our RequestId rides in <c>customData.rid</c>, but only [S] sources
/// say Precept echoes custom data on lead results, so an item without it is matched by what Precept echoes of the lead
/// (its LinkedIn URL, else name + company), among the job's own requests. Duplicates of one person in a job are
/// matched one item each, in order.
/// </summary>
public sealed class PreceptResultMatcher
{
    readonly IReadOnlyDictionary<Guid, OpenLead> leads;
    readonly List<(OpenLead Lead, LeadIdentity Identity)> identities;
    readonly HashSet<Guid> matched = [];

    public PreceptResultMatcher(IReadOnlyCollection<OpenLead> leads)
    {
        this.leads = leads.ToDictionary(l => l.RequestId);
        identities = leads.Select(l => (l, IdentityOf(l.Request))).ToList();
    }

    /// <summary>The lead the item is for; null when it carries neither a RequestId of this job nor a lead of it.</summary>
    public OpenLead? Match(JsonElement item)
    {
        var lead = PreceptResults.RequestIdOf(item) is { } rid
            ? leads.GetValueOrDefault(rid)
            : ByIdentity(PreceptResults.IdentityOf(item));
        if (lead is not null)
            matched.Add(lead.RequestId);
        return lead;
    }

    OpenLead? ByIdentity(LeadIdentity echoed)
    {
        var candidates = identities.Where(x => x.Identity.SamePersonAs(echoed)).Select(x => x.Lead).ToList();
        // A person twice in a job: each item takes a lead no earlier item took, open ones first; a repeat of an item
        // already applied finds them all taken and lands on an ended lead, which it leaves alone.
        return candidates.FirstOrDefault(l => !matched.Contains(l.RequestId) && !l.Ended)
               ?? candidates.FirstOrDefault(l => !matched.Contains(l.RequestId))
               ?? candidates.FirstOrDefault();
    }

    /// <summary>
    /// Whether a Precept job read back is the one a lost submit created: its name is ours, or, where Precept shows no
    /// name, its results carry our RequestIds, or hold exactly our leads. Null while it cannot tell (no name, no results yet).
    /// </summary>
    public static bool? IsJobOf(PreceptJobReport report, OpenJob job)
    {
        if (report.Name is not null)
            return report.Name == job.Name;
        if (report.Results.Count == 0)
            return null;
        var ours = job.Leads.Select(l => l.RequestId).ToHashSet();
        if (report.Results.Any(item => PreceptResults.RequestIdOf(item) is { } rid && ours.Contains(rid)))
            return true;
        if (report.Results.Any(item => PreceptResults.RequestIdOf(item) is not null))
            return false;
        // No echo at all: the same number of leads, and every one of ours among them.
        if (report.Total is { } total && total != job.Leads.Count)
            return false;
        var echoed = report.Results.Select(PreceptResults.IdentityOf).ToList();
        var skipped = report.Skipped ?? 0;
        var found = job.Leads.Count(l => echoed.Any(e => e.SamePersonAs(IdentityOf(l.Request))));
        return found > 0 && found + skipped >= job.Leads.Count;
    }

    public static LeadIdentity IdentityOf(EnrichmentRequested request)
    {
        var lead = request.Lead!;
        return LeadIdentity.Of(lead.LinkedInUrl, lead.FirstName, lead.LastName, lead.CompanyName, lead.CompanyDomain);
    }
}
