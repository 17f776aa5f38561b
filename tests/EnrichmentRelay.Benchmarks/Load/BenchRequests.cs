using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Benchmarks.Load;

/// <summary>A request to publish: its key and its bytes (raw camelCase JSON, what a producer without MassTransit sends).</summary>
public sealed record PublishedRequest(Guid RequestId, byte[] Body);

/// <summary>
/// Requests like a CRM would send: a lead that identifies the person, both fields for Precept, and a little
/// correlation data. The same bytes go to the relay and to the baseline chain.
/// </summary>
public static class BenchRequests
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static PublishedRequest Precept(int i) => Encode(new EnrichmentRequested
    {
        RequestId = Guid.NewGuid(),
        Lead = i % 3 == 0
            ? new Lead { LinkedInUrl = $"https://www.linkedin.com/in/bench-{i}-{Guid.NewGuid():N}", FirstName = "Lead", LastName = $"Bench{i}" }
            : new Lead { FirstName = "Jane", LastName = $"Bench{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
        Fields = [EnrichmentField.Email, EnrichmentField.Phone],
        CorrelationData = new Dictionary<string, string> { ["crmId"] = $"0031t0000{i:D7}", ["campaign"] = "bench" },
    });

    /// <summary>A Lead Finder lead (uid + the search payload Woodpecker recommends passing).</summary>
    public static PublishedRequest Woodpecker(int i)
    {
        var uid = $"bench{i}_{Guid.NewGuid():N}";
        var payload = $$"""
            { "uid": "{{uid}}", "full_name": "Erlich B{{i}}", "first_name": "Erlich", "last_name": "B{{i}}",
              "linkedin_url": "linkedin.com/in/erlich-b{{i}}-{{uid[^8..]}}", "company_name": "Bachmanity", "company_website": "bachmanity.com",
              "job_title": "Ceo", "job_title_levels": ["Cxo"], "country": "United States" }
            """;
        return Encode(new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { WoodpeckerLead = JsonDocument.Parse(payload).RootElement.Clone() },
            Fields = [EnrichmentField.Email],
            CorrelationData = new Dictionary<string, string> { ["crmId"] = $"0031t0000{i:D7}" },
        });
    }

    /// <summary>A Lance person (the caller must add it to the Lance sandbox), email only: one bulk call per 1,000.</summary>
    public static PublishedRequest Lance(string personId, int i) => Encode(new EnrichmentRequested
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = personId },
        Fields = [EnrichmentField.Email],
        CorrelationData = new Dictionary<string, string> { ["crmId"] = $"0031t0000{i:D7}" },
    });

    static PublishedRequest Encode(EnrichmentRequested request) =>
        new(request.RequestId, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request, Json)));
}
