namespace EnrichmentRelay.Providers;

/// <summary>
/// Who a lead is, compared the way vendors echo it back: LinkedIn URLs without scheme, www, query or trailing slash
/// (Lead Finder writes <c>linkedin.com/in/x</c>, prospects <c>https://www.linkedin.com/in/x/</c>), names and
/// companies without case or surrounding space, a company's domain without scheme or path.
/// </summary>
public sealed record LeadIdentity(string? LinkedIn, string? FirstName, string? LastName, string? Company, string? Domain)
{
    public static LeadIdentity Of(string? linkedIn, string? firstName, string? lastName, string? company, string? domain) =>
        new(NormalizeLinkedIn(linkedIn), Plain(firstName), Plain(lastName), Plain(company), NormalizeDomain(domain));

    /// <summary>Same LinkedIn profile, or else the same first and last name at the same company (by name or domain).</summary>
    public bool SamePersonAs(LeadIdentity other)
    {
        if (LinkedIn is not null && other.LinkedIn is not null)
            return LinkedIn == other.LinkedIn;
        return FirstName is not null && LastName is not null && FirstName == other.FirstName && LastName == other.LastName
               && ((Company is not null && Company == other.Company) || (Domain is not null && Domain == other.Domain));
    }

    public static string? NormalizeLinkedIn(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
            return null;
        var text = url.Trim().ToLowerInvariant();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            text = text[(scheme + 3)..];
        if (text.StartsWith("www.", StringComparison.Ordinal))
            text = text[4..];
        var cut = text.IndexOfAny(['?', '#']);
        if (cut >= 0)
            text = text[..cut];
        return text.TrimEnd('/');
    }

    public static string? NormalizeDomain(string? website) => NormalizeLinkedIn(website)?.Split('/')[0];

    static string? Plain(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim().ToLowerInvariant();
}
