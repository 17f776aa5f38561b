using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Requests;

/// <summary>
/// A lead's identifiers in the one form the relay stores, routes and sends, applied at every door (bus, raw JSON,
/// HTTP) before validation: a LinkedIn profile URL as <c>https://www.linkedin.com/in/&lt;slug&gt;</c> (see
/// <see cref="LinkedInProfileUrl"/>), a Lance person id as a lower-case hyphenated UUID, and a blank identifier as
/// none. A value that cannot be put in form is left as it came, for the validator to refuse with its reason.
/// </summary>
public static class LeadIdentifiers
{
    public static EnrichmentRequested Canonical(EnrichmentRequested request)
    {
        if (request.Lead is not { } lead)
            return request;
        var canonical = lead with
        {
            LinkedInUrl = string.IsNullOrWhiteSpace(lead.LinkedInUrl) ? null : LinkedInProfileUrl.Canonical(lead.LinkedInUrl) ?? lead.LinkedInUrl,
            LancePersonId = string.IsNullOrWhiteSpace(lead.LancePersonId) ? null
                : Guid.TryParse(lead.LancePersonId.Trim(), out var personId) ? personId.ToString("D") : lead.LancePersonId,
            WoodpeckerLead = lead.WoodpeckerLead is { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } ? null : lead.WoodpeckerLead,
        };
        return canonical == lead ? request : request with { Lead = canonical };
    }
}
