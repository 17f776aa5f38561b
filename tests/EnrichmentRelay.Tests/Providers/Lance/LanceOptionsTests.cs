using System.ComponentModel.DataAnnotations;
using EnrichmentRelay.Providers.Lance;

namespace EnrichmentRelay.Tests.Providers.Lance;

public sealed class LanceOptionsTests
{
    [Theory]
    [InlineData("-0.5", false)]
    [InlineData("0", true)]
    [InlineData("1", true)]
    [InlineData("2.5", true)]
    [InlineData("1000", true)]
    [InlineData("1000.01", false)]
    public void CreditsPerEnrichmentMustBeAPriceLanceCouldCharge(string credits, bool valid)
    {
        var options = new LanceOptions { BaseUrl = new Uri("https://app.lance.so/"), ApiKey = "k", CreditsPerEnrichment = decimal.Parse(credits, System.Globalization.CultureInfo.InvariantCulture) };

        var problems = options.Validate(new ValidationContext(options)).ToList();

        if (valid)
            Assert.Empty(problems);
        else
            Assert.Equal(nameof(LanceOptions.CreditsPerEnrichment), Assert.Single(Assert.Single(problems).MemberNames));
    }
}
