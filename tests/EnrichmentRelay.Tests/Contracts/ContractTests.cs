using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Tests.Contracts;

public sealed class ContractTests
{
    [Fact]
    public void ACorrectionsEventIdIsItsOwnAndTheSameOnEveryPublication()
    {
        var requestId = Guid.NewGuid();
        Assert.Equal(EnrichmentCompleted.EventIdFor(requestId), EnrichmentCompleted.EventIdFor(requestId, 1));
        var second = EnrichmentCompleted.EventIdFor(requestId, 2);
        Assert.Equal(second, EnrichmentCompleted.EventIdFor(requestId, 2));
        Assert.NotEqual(EnrichmentCompleted.EventIdFor(requestId), second);
        Assert.NotEqual(second, EnrichmentCompleted.EventIdFor(requestId, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnrichmentCompleted.EventIdFor(requestId, 0));
        Assert.Equal(1, new EnrichmentCompleted().Revision);
        Assert.Null(new EnrichmentCompleted().Supersedes);
    }

    [Fact]
    public void EventIdIsTheSameForTheSameRequestAndDiffersOtherwise()
    {
        var requestId = Guid.Parse("3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11");

        var first = EnrichmentCompleted.EventIdFor(requestId);

        Assert.Equal(first, EnrichmentCompleted.EventIdFor(requestId));
        Assert.NotEqual(first, EnrichmentCompleted.EventIdFor(Guid.NewGuid()));
        Assert.NotEqual(requestId, first);
        Assert.Equal('5', first.ToString()[14]); // RFC 4122 version 5 (name-based, SHA-1)
    }

    [Fact]
    public void SelectedPersonsGetTheSameRequestIdEveryTime()
    {
        var selection = Guid.NewGuid();
        const string person = "550E8400-e29b-41d4-a716-446655440001";

        Assert.Equal(SelectionEnrichmentRequested.RequestIdFor(selection, person),
            SelectionEnrichmentRequested.RequestIdFor(selection, person.ToLowerInvariant()));
        Assert.NotEqual(SelectionEnrichmentRequested.RequestIdFor(selection, person),
            SelectionEnrichmentRequested.RequestIdFor(Guid.NewGuid(), person));
        Assert.NotEqual(SelectionEnrichmentCompleted.EventIdFor(selection), EnrichmentCompleted.EventIdFor(selection));
    }

    [Fact]
    public void NameBasedGuidMatchesTheRfc4122Example()
    {
        // RFC 4122 / Python uuid5(NAMESPACE_DNS, "python.org")
        var dns = Guid.Parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        Assert.Equal(Guid.Parse("886313e1-3b8a-5372-9b90-0c9aee199e5d"), NameBasedGuid.Create(dns, "python.org"));
    }

    [Fact]
    public void DesignDocumentRequestShapeIsRead()
    {
        const string json = """
            { "requestId": "3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11",
              "lead": { "firstName": "Jane", "lastName": "Doe", "companyName": "Acme", "companyDomain": "acme.com",
                        "linkedInUrl": "https://www.linkedin.com/in/jane-doe", "email": null,
                        "woodpeckerLead": { "uid": "0SVOUN5zYlkzJ5fMrBxUdiQ_0000", "full_name": "Jane Doe" },
                        "lancePersonId": "550e8400-e29b-41d4-a716-446655440001" },
              "fields": ["email", "PHONE"],
              "providers": ["precept"],
              "correlationData": { "crmId": "0031t00000AbCdE" } }
            """;

        var request = JsonSerializer.Deserialize<EnrichmentRequested>(json, RelayJson.Options)!;

        Assert.Equal(Guid.Parse("3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11"), request.RequestId);
        Assert.Equal([EnrichmentField.Email, EnrichmentField.Phone], request.Fields);
        Assert.Equal([ProviderName.Precept], request.Providers);
        Assert.Equal("0SVOUN5zYlkzJ5fMrBxUdiQ_0000", request.Lead!.WoodpeckerLead!.Value.GetProperty("uid").GetString());
        Assert.Equal("0031t00000AbCdE", request.CorrelationData!["crmId"]);
    }

    [Fact]
    public void CompletionIsWrittenCamelCaseWithEnumsAsStrings()
    {
        var completed = new EnrichmentCompleted
        {
            RequestId = Guid.NewGuid(),
            Provider = ProviderName.Precept,
            Outcome = Outcome.InsufficientCredits,
        };

        var json = JsonSerializer.Serialize(completed); // default options: the contract carries its own converters

        Assert.Contains("\"Outcome\":\"insufficientCredits\"", json);
        Assert.Contains("\"Provider\":\"precept\"", json);
        Assert.Contains("\"outcome\":\"insufficientCredits\"", JsonSerializer.Serialize(completed, RelayJson.Options));
    }
}
