using System.Text.Json;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>Requests for the fault and scale-out runs, and reading the sandbox's per-lead counts.</summary>
public static class Leads
{
    /// <summary>Lead i goes to Precept (i % 3 == 0), Woodpecker (1) or Lance (2); every one is findable and unique.</summary>
    public static EnrichmentRequested Mixed(int i) => (i % 3) switch
    {
        0 => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = $"K{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email],
        },
        1 => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead
            {
                WoodpeckerLead = JsonDocument.Parse($$"""{"uid":"k{{i}}-{{Guid.NewGuid():N}}","first_name":"Erlich","last_name":"K{{i}}","company_name":"Bachmanity","company_website":"bachmanity.com","linkedin_url":"linkedin.com/in/erlich-k{{i}}"}""").RootElement.Clone(),
            },
            Fields = [EnrichmentField.Email],
        },
        _ => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { LancePersonId = Guid.NewGuid().ToString() },
            Fields = [EnrichmentField.Email],
        },
    };

    /// <summary>The most times any one lead was submitted or charged (1 is right; 0 when none was).</summary>
    public static int Max(IReadOnlyDictionary<string, int> counts) => counts.Count == 0 ? 0 : counts.Values.Max();
}
