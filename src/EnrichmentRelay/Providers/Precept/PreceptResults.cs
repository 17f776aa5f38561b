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
        PhoneFormat phoneFormat = PhoneFormat.AsReceived)
    {
        var emails = fields.Contains(EnrichmentField.Email) ? Strings(Property(item, "enrich_email", "enrichEmail")) : [];
        var phones = fields.Contains(EnrichmentField.Phone) ? Strings(Property(item, "enrich_phone", "enrichPhone")) : [];
        phones = PhoneNumbers.Written(phones, phoneFormat);
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
