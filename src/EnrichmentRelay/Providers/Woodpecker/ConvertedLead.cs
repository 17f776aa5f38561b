using System.Text.Json;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// What identifies a converted lead's prospect. The prospect carries no Lead Finder uid, so it is matched by the
/// LinkedIn URL first, then by name with company or website, from the lead payload (the request's own fields fill gaps).
/// </summary>
public sealed record ConvertedLead(string? FirstName, string? LastName, string? LinkedInKey, string? Company, string? Domain)
{
    public static ConvertedLead Of(EnrichmentRequested request)
    {
        var payload = request.Lead!.WoodpeckerLead!.Value;
        string? Field(string name) =>
            payload.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetString())
                ? v.GetString()!.Trim()
                : null;
        var first = Field("first_name") ?? Trimmed(request.Lead.FirstName);
        var last = Field("last_name") ?? Trimmed(request.Lead.LastName);
        if ((first is null || last is null)
            && Field("full_name")?.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var f, var l])
            (first, last) = (first ?? f, last ?? l);
        return new ConvertedLead(first, last,
            LinkedInProfileUrl.MatchKey(Field("linkedin_url") ?? request.Lead.LinkedInUrl),
            Field("company_name") ?? Trimmed(request.Lead.CompanyName),
            LeadIdentity.NormalizeDomain(Field("company_website") ?? request.Lead.CompanyDomain));
    }

    static string? Trimmed(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    public WoodpeckerProspect? Match(IEnumerable<WoodpeckerProspect> candidates)
    {
        var lead = LeadIdentity.Of(LinkedInKey, FirstName, LastName, Company, Domain);
        var list = candidates.Select(p => (Prospect: p, Identity: LeadIdentity.Of(p.LinkedInUrl, p.FirstName, p.LastName, p.Company, p.Website))).ToList();
        return list.FirstOrDefault(p => lead.SameProfileAs(p.Identity)).Prospect
            ?? list.FirstOrDefault(p => lead.SameNameAtCompanyAs(p.Identity)).Prospect;
    }

    /// <summary>A converted lead's result from <paramref name="candidates"/>: its prospect's email; null while none matches.</summary>
    public LeadResult? Converted(IEnumerable<WoodpeckerProspect> candidates, WoodpeckerOutcomes.Followed? followed) =>
        Match(candidates)?.Email is { Length: > 0 } email ? WoodpeckerOutcomes.ConvertedFound(email, followed) : null;

    /// <summary>
    /// The v1 <c>search=</c> that narrows the prospects to this lead's namesakes, by the fields that page documents as
    /// searchable (first_name, last_name, company, website; <c>linkedin_url</c> is not among them); null without a name.
    /// <see cref="Match"/> then picks the prospect among what it returns.
    /// </summary>
    public IReadOnlyDictionary<string, string>? SearchCriteria()
    {
        if (FirstName is null || LastName is null || (Company is null && Domain is null))
            return null;
        var criteria = new Dictionary<string, string> { ["first_name"] = FirstName, ["last_name"] = LastName };
        if (Company is not null)
            criteria["company"] = Company;
        else
            criteria["website"] = Domain!;
        return criteria;
    }
}
