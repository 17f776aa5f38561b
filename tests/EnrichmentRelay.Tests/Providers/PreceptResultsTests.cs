using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers.Precept;

namespace EnrichmentRelay.Tests.Providers;

public sealed class PreceptResultsTests
{
    static readonly EnrichmentField[] Both = [EnrichmentField.Email, EnrichmentField.Phone];

    static JsonElement Item(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Theory]
    [InlineData("""{"custom_data":{"rid":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11"},"enrich_email":"jane@acme.com","enrich_phone":null}""")]
    [InlineData("""{"customData":{"rid":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11"},"enrichEmail":"jane@acme.com","enrichPhone":null}""")]
    [InlineData("""{"customData":{"rid":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11"},"enrichEmail":["jane@acme.com"," JANE@acme.com"]}""")]
    public void EitherFieldNamingGivesTheSameResult(string json)
    {
        var item = Item(json);

        Assert.Equal(Guid.Parse("3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11"), PreceptResults.RequestIdOf(item));
        var result = PreceptResults.Normalize(item, Both);
        Assert.Equal(Outcome.Found, result.Outcome);
        Assert.Equal(["jane@acme.com"], result.Emails);
        Assert.Empty(result.Phones!);
    }

    [Fact]
    public void OnlyRequestedFieldsCount()
    {
        var result = PreceptResults.Normalize(Item("""{"enrich_email":null,"enrich_phone":"+15550000000"}"""), [EnrichmentField.Email]);

        Assert.Equal(Outcome.NotFound, result.Outcome);
        Assert.Contains("no email", result.Detail);
    }

    [Fact]
    public void LeadNotFoundIsNotFoundAndOtherLeadErrorsAreFailures()
    {
        Assert.Equal(Outcome.NotFound, PreceptResults.Normalize(Item("""{"error":"Lead not found"}"""), Both).Outcome);

        var failed = PreceptResults.Normalize(Item("""{"error":"Failed to retrieve information"}"""), Both);
        Assert.Equal(Outcome.Failed, failed.Outcome);
        Assert.Equal("Precept: Failed to retrieve information", failed.Detail);
    }

    [Fact]
    public void ItemWithoutOurKeyHasNoRequest() =>
        Assert.Null(PreceptResults.RequestIdOf(Item("""{"custom_data":{"contact_id":"lead_123"}}""")));
}
