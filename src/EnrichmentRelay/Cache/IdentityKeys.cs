using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Cache;

/// <summary>
/// The normalized identity keys of a lead, one per identifier it carries: its email (lower-cased), its LinkedIn profile
/// (the canonical slug, case-insensitively), first and last name at a company domain (without case, the domain as a bare
/// host), its Woodpecker Lead Finder uid and its Lance person id. Two leads that share any key are the same person.
/// A key is its kind and the SHA-256 of its normalized text: fixed length, and no identifier in clear in the index.
/// </summary>
public static class IdentityKeys
{
    public static IReadOnlyList<string> Of(Lead? lead)
    {
        if (lead is null)
            return [];
        var keys = new List<string>();
        if (Email(lead.Email) is { } email)
            keys.Add(email);
        if (LinkedInProfileUrl.MatchKey(lead.LinkedInUrl) is { } profile)
            keys.Add(Key("linkedin", profile[LinkedInProfileUrl.Prefix.Length..]));
        var identity = LeadIdentity.Of(null, lead.FirstName, lead.LastName, null, lead.CompanyDomain);
        if (identity is { FirstName: { } first, LastName: { } last, Domain: { } domain })
            keys.Add(Key("name", $"{first}\n{last}\n{domain}"));
        if (WoodpeckerUid(lead.WoodpeckerLead) is { } uid)
            keys.Add(Key("woodpecker", uid));
        if (!string.IsNullOrWhiteSpace(lead.LancePersonId))
            keys.Add(Key("lance", lead.LancePersonId.Trim().ToLowerInvariant()));
        return keys;
    }

    /// <summary>The key of an email address; null when blank.</summary>
    public static string? Email(string? email) =>
        string.IsNullOrWhiteSpace(email) ? null : Key("email", email.Trim().ToLowerInvariant());

    /// <summary>The Lead Finder's own id of the lead (case-sensitive, as Woodpecker gives it).</summary>
    static string? WoodpeckerUid(JsonElement? lead) =>
        lead is { ValueKind: JsonValueKind.Object } payload && payload.TryGetProperty("uid", out var uid)
            && uid.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(uid.GetString())
            ? uid.GetString()!.Trim()
            : null;

    static string Key(string kind, string normalized) =>
        $"{kind}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalized)))}";
}
