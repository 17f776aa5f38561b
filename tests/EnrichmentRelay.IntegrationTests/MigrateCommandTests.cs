using System.Diagnostics;
using System.Text.RegularExpressions;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Migrations as a deploy step: <c>--migrate</c> applies them and exits, and relays that never migrate
/// (<c>Ledger:MigrateOnStartup=false</c>, as in deploy/kubernetes) then work on the migrated database.
/// </summary>
public sealed class MigrateCommandTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(Engine.Sqlite)]
    [InlineData(Engine.Postgres)]
    public async Task MigrateAppliesTheSchemaOnceThenARelayThatNeverMigratesCompletesRequests(Engine engine)
    {
        var database = await TestDatabase.CreateAsync(engine);
        try
        {
            var clock = Stopwatch.StartNew();
            var (exitCode, printed) = await RelayProcess.RunToExitAsync(database.Settings, Deadline, "--migrate");
            var firstRun = clock.Elapsed;
            Assert.True(exitCode == 0, printed);
            var applied = Regex.Match(printed, @"applied (\d+) of (\d+) migrations");
            Assert.True(applied.Success, printed);
            Assert.Equal(applied.Groups[2].Value, applied.Groups[1].Value); // an empty database gets every migration

            (exitCode, printed) = await RelayProcess.RunToExitAsync(database.Settings, Deadline, "--migrate");
            Assert.True(exitCode == 0, printed);
            Assert.Contains("up to date", printed);

            await using var scenario = await RelayScenario.StartAsync(engine, settings: new Dictionary<string, string>(database.Settings)
            {
                ["Ledger__MigrateOnStartup"] = "false",
            });
            var request = new EnrichmentRequested
            {
                RequestId = Guid.NewGuid(),
                Lead = new Lead { FirstName = "Jane", LastName = "Migrated", CompanyName = "Acme", CompanyDomain = "acme.com" },
                Fields = [EnrichmentField.Email],
            };
            await scenario.Bus.PublishAsync(request);
            await scenario.Bus.WaitForCompletionsAsync([request.RequestId], Deadline);
            Assert.Equal(Outcome.Found, Assert.Single(scenario.Bus.Completions[request.RequestId]).Outcome);
            output.WriteLine($"[figure] --migrate on {engine}: {applied.Groups[1].Value} migrations applied in {firstRun.TotalSeconds:0.0} s, " +
                             "a second run found it up to date, and a relay with Ledger:MigrateOnStartup=false completed a request on it");
        }
        finally
        {
            database.Delete();
        }
    }

    [Fact]
    public async Task MigrateAgainstADatabaseThatIsNotThereFailsWithOneLineAndNoPassword()
    {
        var settings = new Dictionary<string, string>
        {
            ["Ledger__Engine"] = "Postgres",
            // Nothing listens on port 1.
            ["Ledger__ConnectionString"] = "Host=127.0.0.1;Port=1;Database=relay;Username=relay;Password=do-not-print-me",
        };

        var (exitCode, printed) = await RelayProcess.RunToExitAsync(settings, Deadline, "--migrate");

        Assert.True(exitCode == 1, printed);
        Assert.Contains("Ledger (Postgres): migration failed:", printed);
        Assert.DoesNotContain("do-not-print-me", printed);
    }
}
