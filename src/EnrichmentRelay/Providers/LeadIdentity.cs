namespace EnrichmentRelay.Providers;

/// <summary>
/// Who a lead is, compared the way vendors echo it back: a LinkedIn profile by <see cref="LinkedInProfileUrl.MatchKey"/>,
/// names and companies without case or surrounding space, a company's website as its bare host.
/// </summary>
public sealed record LeadIdentity(string? LinkedIn, string? FirstName, string? LastName, string? Company, string? Domain)
{
    public static LeadIdentity Of(string? linkedIn, string? firstName, string? lastName, string? company, string? website) =>
        new(LinkedInProfileUrl.MatchKey(linkedIn), Plain(firstName), Plain(lastName), Plain(company), NormalizeDomain(website));

    /// <summary>The same LinkedIn profile, when both show one.</summary>
    public bool SameProfileAs(LeadIdentity other) => LinkedIn is not null && LinkedIn == other.LinkedIn;

    /// <summary>The same first and last name at the same company, by name or by domain.</summary>
    public bool SameNameAtCompanyAs(LeadIdentity other) =>
        FirstName is not null && LastName is not null && FirstName == other.FirstName && LastName == other.LastName
        && ((Company is not null && Company == other.Company) || (Domain is not null && Domain == other.Domain));

    /// <summary>The same profile when both show one; otherwise the same name at the same company.</summary>
    public bool SamePersonAs(LeadIdentity other) =>
        LinkedIn is not null && other.LinkedIn is not null ? SameProfileAs(other) : SameNameAtCompanyAs(other);

    /// <summary>A company website as a bare host: no scheme, www, port, path or query.</summary>
    public static string? NormalizeDomain(string? website)
    {
        if (string.IsNullOrWhiteSpace(website))
            return null;
        var text = website.Trim().ToLowerInvariant();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            text = text[(scheme + 3)..];
        text = text.Split('/', '?', '#')[0].Split(':')[0];
        if (text.StartsWith("www.", StringComparison.Ordinal))
            text = text[4..];
        return text.Length == 0 ? null : text;
    }

    static string? Plain(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim().ToLowerInvariant();
}
