using EnrichmentRelay.Tests.Hosting;

namespace EnrichmentRelay.Tests.Budgets;

/// <summary>Budget settings are checked at start-up, like every other (the relay's own <c>--check-settings</c>).</summary>
public sealed class BudgetSettingsTests
{
    [Fact]
    public void ANegativeCapOrPriceAnImpossibleIntervalAndAnUnknownModeStopTheRelayNamingEach()
    {
        var (exitCode, output) = RelaySettingsCheck.Run(new Dictionary<string, string>
        {
            ["Budgets__Precept__DailyCap"] = "-1",
            ["Budgets__Woodpecker__PricePerEmail"] = "-1.5",
            ["Budgets__SettleInterval"] = "00:00:00",
        });
        Assert.True(exitCode == 78, $"exit {exitCode}\n{output}");
        Assert.Contains("Budgets:Precept:DailyCap must be between 0", output);
        Assert.Contains("Budgets:Woodpecker:PricePerEmail must be between 0", output);
        Assert.Contains("Budgets:SettleInterval must be between 100 ms and 1 hour", output);

        (exitCode, output) = RelaySettingsCheck.Run(new Dictionary<string, string> { ["Budgets__WhenExhausted"] = "Sometimes" });
        Assert.True(exitCode == 78, $"exit {exitCode}\n{output}");
        Assert.Contains("Budgets:WhenExhausted", output);
    }

    [Fact]
    public void CapsCeilingsAndPricesWithinRangeAreAccepted()
    {
        var (exitCode, output) = RelaySettingsCheck.Run(new Dictionary<string, string>
        {
            ["Budgets__Precept__DailyCap"] = "5000",
            ["Budgets__Precept__PerRequestCeiling"] = "12",
            ["Budgets__Lance__PricePerPhone"] = "2.5",
            ["Budgets__WhenExhausted"] = "Complete",
        });
        Assert.True(exitCode == 0, $"exit {exitCode}\n{output}");
    }
}
