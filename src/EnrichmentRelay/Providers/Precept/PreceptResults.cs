using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// Turns Precept result items into outcomes. Tolerant of the documented field-name drift:
/// <c>enrich_email</c>/<c>enrichEmail</c>, <c>enrich_phone</c>/<c>enrichPhone</c>, <c>custom_data</c>/<c>customData</c>.
/// </summary>
public static class PreceptResults
{
    /// <summary>The only key we put in Precept's customData: our RequestId (its 5 x 100 limit stays irrelevant).</summary>
    public const string RequestKey = "rid";

    public static Guid? RequestIdOf(JsonElement item)
    {
        var custom = Property(item, "custom_data", "customData");
        if (custom is { ValueKind: JsonValueKind.Object } data
            && data.TryGetProperty(RequestKey, out var rid)
            && rid.ValueKind == JsonValueKind.String
            && Guid.TryParse(rid.GetString(), out var id))
            return id;
        return null;
    }

    /// <summary>What Precept echoes of the lead in a result item, in either naming.</summary>
    public static LeadIdentity IdentityOf(JsonElement item)
    {
        string? Text(params string[] names) => Property(item, names) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;
        return LeadIdentity.Of(Text("linkedin_url", "linkedinUrl", "linkedin"), Text("first_name", "firstName"), Text("last_name", "lastName"),
            Text("company_name", "companyName", "company"), Text("company_domain", "companyDomain", "company_website", "domain"));
    }

    public static LeadResult Normalize(JsonElement item, IReadOnlyCollection<EnrichmentField> fields,
        PreceptPhoneFormat phoneFormat = PreceptPhoneFormat.AsReceived)
    {
        var emails = fields.Contains(EnrichmentField.Email) ? Strings(Property(item, "enrich_email", "enrichEmail")) : [];
        var phones = fields.Contains(EnrichmentField.Phone) ? Strings(Property(item, "enrich_phone", "enrichPhone")) : [];
        if (phoneFormat == PreceptPhoneFormat.E164)
            phones = phones.Select(PhoneNumbers.ToE164).Distinct(StringComparer.Ordinal).ToList();
        if (emails.Count > 0 || phones.Count > 0)
            return new LeadResult(Outcome.Found, emails, phones);

        if (Property(item, "error") is { ValueKind: JsonValueKind.String } error && error.GetString() is { Length: > 0 } message)
        {
            // "Lead not found" is an answer; any other lead-level error is the provider failing.
            return message.Contains("not found", StringComparison.OrdinalIgnoreCase)
                ? new LeadResult(Outcome.NotFound, Detail: $"Precept: {message}")
                : new LeadResult(Outcome.Failed, Detail: $"Precept: {message}");
        }
        var wanted = string.Join(" or ", fields.Select(f => f == EnrichmentField.Email ? "email" : "phone"));
        return new LeadResult(Outcome.NotFound, Detail: $"Precept found no {wanted} for this lead.");
    }

    static JsonElement? Property(JsonElement item, params string[] names)
    {
        if (item.ValueKind != JsonValueKind.Object)
            return null;
        foreach (var name in names)
            if (item.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
                return value;
        return null;
    }

    /// <summary>A contact field may be a string or a list of strings; blanks mean nothing found.</summary>
    static List<string> Strings(JsonElement? value) => value switch
    {
        { ValueKind: JsonValueKind.String } s when !string.IsNullOrWhiteSpace(s.GetString()) => [s.GetString()!.Trim()],
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray()
            .Where(e => e.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(e.GetString()))
            .Select(e => e.GetString()!.Trim())
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList(),
        _ => [],
    };
}

/// <summary>How the phone numbers Precept finds are written into results.</summary>
public enum PreceptPhoneFormat
{
    /// <summary>As Precept wrote them (trimmed).</summary>
    AsReceived,
    /// <summary>
    /// E.164 (<c>+15550123456</c>) where the number is international (it starts with <c>+</c> or <c>00</c>): spaces, dots,
    /// dashes, slashes and parentheses dropped. A number without its country code, or written with a trunk prefix
    /// (<c>(0)</c>) or an extension, is kept as received: nothing is guessed.
    /// </summary>
    E164,
}

public static class PhoneNumbers
{
    /// <summary>
    /// <paramref name="phone"/> in E.164 when it is an international number of 8 to 15 digits written with the usual
    /// separators; otherwise as it is.
    /// </summary>
    public static string ToE164(string phone)
    {
        var text = phone.Trim();
        var international = text.StartsWith('+') ? text[1..] : text.StartsWith("00", StringComparison.Ordinal) ? text[2..] : null;
        // "+44 (0)20 …": the national trunk prefix written beside the country code is not part of the number.
        if (international is null || international.Contains("(0)", StringComparison.Ordinal))
            return text;
        var digits = new System.Text.StringBuilder();
        foreach (var c in international)
        {
            if (char.IsAsciiDigit(c))
                digits.Append(c);
            else if (c is not (' ' or '.' or '-' or '/' or '(' or ')'))
                return text; // an extension, letters, …: not a plain number
        }
        return digits.Length is >= 8 and <= 15 && digits[0] != '0' ? "+" + digits : text;
    }
}
