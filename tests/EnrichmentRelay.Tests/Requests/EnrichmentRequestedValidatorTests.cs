using Microsoft.Extensions.Options;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Requests;

namespace EnrichmentRelay.Tests.Requests;

public sealed class EnrichmentRequestedValidatorTests
{
    readonly EnrichmentRequestedValidator validator = new(new Waterfall([new ScriptedProvider()], Options.Create(new WaterfallOptions())));

    [Fact]
    public void ValidRequestPasses() =>
        Assert.True(validator.Validate(LedgerTestHost.ValidRequest()).IsValid);

    [Theory]
    [InlineData("requestId")]
    [InlineData("lead")]
    [InlineData("fields")]
    [InlineData("correlationData")]
    [InlineData("lead.linkedInUrl")]
    public void EachProblemIsReportedUnderItsJsonName(string property)
    {
        var request = property switch
        {
            "requestId" => LedgerTestHost.ValidRequest(Guid.Empty),
            "lead" => LedgerTestHost.ValidRequest() with { Lead = null },
            "fields" => LedgerTestHost.ValidRequest() with { Fields = [EnrichmentField.Email, EnrichmentField.Email] },
            "correlationData" => LedgerTestHost.ValidRequest() with
            {
                CorrelationData = new Dictionary<string, string> { ["k"] = new('x', EnrichmentRequestedValidator.MaxCorrelationValueLength + 1) },
            },
            _ => LedgerTestHost.ValidRequest() with { Lead = new Lead { LinkedInUrl = "https://example.com/in/jane" } },
        };

        var result = validator.Validate(request);

        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.PropertyName.StartsWith(property, StringComparison.Ordinal));
    }

    [Fact]
    public void TooManyCorrelationKeysAreRefused()
    {
        var request = LedgerTestHost.ValidRequest() with
        {
            CorrelationData = Enumerable.Range(0, EnrichmentRequestedValidator.MaxCorrelationKeys + 1).ToDictionary(i => $"k{i}", _ => "v"),
        };

        Assert.Contains(validator.Validate(request).Errors, e => e.PropertyName == "correlationData");
    }
}
