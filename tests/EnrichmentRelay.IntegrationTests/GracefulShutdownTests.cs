using System.Diagnostics;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>A normal stop (SIGTERM) lets the provider call in flight finish and records its answer.</summary>
[Collection(RelayCollection.Name)]
public sealed class GracefulShutdownTests(ITestOutputHelper output)
{
    static readonly TimeSpan SubmitLatency = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task SigtermDuringASubmitWaitsForItsAnswerRecordsItAndExitsZero()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            // The job exists at Precept as soon as the POST arrives; its 202 takes 3 s.
            sandbox.Precept.Settings.SubmitLatency = SubmitLatency;
            // No callbacks: after the restart the sweep reads the job, so the relay must know its id.
            sandbox.Precept.Settings.DropWebhooks = true;
        }, new Dictionary<string, string>
        {
            ["Providers__Precept__CallbackGrace"] = "00:00:01",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
        });
        var requests = Enumerable.Range(0, 3).Select(i => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = $"Stop{i}-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email],
        }).ToList();
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            var job = await Eventually.ReturnsAsync(() => Task.FromResult(scenario.Sandbox.Precept.Jobs.SingleOrDefault()),
                j => j is not null, TimeSpan.FromSeconds(30), "the submit to reach Precept");

            var stopping = Stopwatch.StartNew();
            var exitCode = await scenario.Relay.StopAsync(TimeSpan.FromSeconds(30));
            stopping.Stop();
            var stoppedLog = scenario.Relay.LogText;
            var (state, externalId) = await JobInLedgerAsync(scenario.Database);
            output.WriteLine($"[figure] SIGTERM with a submit in flight ({SubmitLatency.TotalSeconds:0} s answer): exit code {exitCode} " +
                             $"after {stopping.Elapsed.TotalSeconds:0.0} s, job recorded {state}");

            Assert.Equal(0, exitCode);
            Assert.Equal("Submitted", state);
            Assert.Equal(job!.EnrichmentId, externalId);
            Assert.DoesNotContain("may or may not have reached", stoppedLog);

            // Started again, the relay finishes the job it knows (and submits any lead that had not gone yet):
            // one submit per lead, one completion per request.
            await scenario.RestartRelayAsync();
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), TimeSpan.FromSeconds(60));
            Assert.All(requests, r => Assert.Equal(Outcome.Found, Assert.Single(scenario.Bus.Completions[r.RequestId]).Outcome));
            var precept = scenario.Sandbox.Precept.Counters;
            Assert.Equal(requests.Count, precept.LeadSubmissions.Count);
            Assert.All(precept.LeadSubmissions.Values, n => Assert.Equal(1, n));
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    static async Task<(string State, string? ExternalId)> JobInLedgerAsync(TestDatabase database)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("""SELECT "State", "ExternalId" FROM provider_jobs""", connection);
        await using var reader = await query.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "no job in the ledger");
        var row = (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1));
        Assert.False(await reader.ReadAsync(), "more than one job in the ledger");
        return row;
    }
}
