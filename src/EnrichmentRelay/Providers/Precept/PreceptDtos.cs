using System.Text.Json.Serialization;

namespace EnrichmentRelay.Providers.Precept;

// Exact vendor field names (providers.md §2.2). Results and callbacks are read as JsonElement
// instead, because their field names drift (enrich_email / enrichEmail, custom_data / customData).

public sealed record PreceptEnrichRequest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("webhookUrl")] string WebhookUrl,
    [property: JsonPropertyName("leads")] IReadOnlyList<PreceptLead> Leads,
    [property: JsonPropertyName("includeContactDetails")] bool IncludeContactDetails = true);

public sealed record PreceptLead(
    [property: JsonPropertyName("linkedinUrl")] string? LinkedinUrl,
    [property: JsonPropertyName("firstName")] string? FirstName,
    [property: JsonPropertyName("lastName")] string? LastName,
    [property: JsonPropertyName("companyName")] string? CompanyName,
    [property: JsonPropertyName("companyDomain")] string? CompanyDomain,
    [property: JsonPropertyName("enrichType")] IReadOnlyList<string> EnrichType,
    [property: JsonPropertyName("customData")] IReadOnlyDictionary<string, string> CustomData);
