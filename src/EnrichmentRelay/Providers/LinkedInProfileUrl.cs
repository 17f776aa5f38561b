using System.Diagnostics.CodeAnalysis;

namespace EnrichmentRelay.Providers;

/// <summary>
/// A person's LinkedIn profile address in the one form the relay stores, routes, sends and compares:
/// <c>https://www.linkedin.com/in/&lt;slug&gt;</c>. Vendors write it in several ways (Woodpecker's Lead Finder
/// gives <c>linkedin.com/in/x</c>, its prospects <c>https://www.linkedin.com/in/x/</c>), so any of these is read:
/// with or without the scheme, http or https, <c>www.</c> or a country or mobile subdomain (<c>uk.</c>, <c>m.</c>),
/// a trailing slash, segments after the slug (a locale, <c>/details/…</c>), a query or a fragment. The slug keeps
/// its case: vanity slugs ignore case, but the member ids LinkedIn also puts there (<c>ACoAA…</c>) do not.
/// </summary>
public static class LinkedInProfileUrl
{
    public const string Prefix = "https://www.linkedin.com/in/";

    /// <summary>LinkedIn's own limit for a profile address is 100 characters; anything much longer is not one.</summary>
    public const int MaxSlugLength = 200;

    /// <summary>The canonical form, or null when <paramref name="url"/> is not recognisably a LinkedIn profile.</summary>
    public static string? Canonical(string? url) => TryCanonical(url, out var canonical, out _) ? canonical : null;

    /// <summary>How two addresses of one profile compare equal: the canonical form, case-insensitively.</summary>
    public static string? MatchKey(string? url) => Canonical(url)?.ToLowerInvariant();

    /// <param name="whyNot">Why it is not a profile address, as a clause: "it is a LinkedIn company page".</param>
    public static bool TryCanonical(string? url, [NotNullWhen(true)] out string? canonical, [NotNullWhen(false)] out string? whyNot)
    {
        canonical = null;
        var text = url?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            whyNot = "it is empty";
            return false;
        }
        if (text.StartsWith("//", StringComparison.Ordinal))
            text = "https:" + text;
        else if (!text.Contains("://", StringComparison.Ordinal))
            text = "https://" + text;

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.HostNameType != UriHostNameType.Dns)
        {
            whyNot = "it is not a web address";
            return false;
        }
        if (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
        {
            whyNot = $"its scheme is {uri.Scheme}, not http(s)";
            return false;
        }
        if (!IsLinkedInHost(uri.Host))
        {
            whyNot = $"{uri.Host} is not LinkedIn";
            return false;
        }
        if (!uri.IsDefaultPort || uri.UserInfo.Length > 0)
        {
            whyNot = "it carries a user name or a port, which LinkedIn's addresses never do";
            return false;
        }
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0 || !segments[0].Equals("in", StringComparison.OrdinalIgnoreCase))
        {
            whyNot = segments.Length > 0 && segments[0].Equals("company", StringComparison.OrdinalIgnoreCase)
                ? "it is a LinkedIn company page, not a person's profile (…/in/…)"
                : "it is not a person's profile address (…/in/…)";
            return false;
        }
        var slug = segments.Length > 1 ? Uri.UnescapeDataString(segments[1]) : "";
        if (slug.Length == 0 || slug.Length > MaxSlugLength || slug.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '/' or '?' or '#'))
        {
            whyNot = slug.Length == 0 ? "it names no profile after /in/" : "its profile name is not one LinkedIn gives";
            return false;
        }
        canonical = Prefix + Uri.EscapeDataString(slug);
        whyNot = null;
        return true;
    }

    /// <summary>linkedin.com itself or one label in front of it: www, m, or a country (uk, de, …).</summary>
    static bool IsLinkedInHost(string host)
    {
        if (host.Equals("linkedin.com", StringComparison.OrdinalIgnoreCase))
            return true;
        const string Domain = ".linkedin.com";
        if (!host.EndsWith(Domain, StringComparison.OrdinalIgnoreCase))
            return false;
        var label = host[..^Domain.Length];
        return label.Length is > 0 and <= 3 && label.All(char.IsAsciiLetter);
    }
}
