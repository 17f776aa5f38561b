using System.Diagnostics;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Identical requests sent at once to three relay instances on one PostgreSQL ledger share one provider call.</summary>
public sealed class CoalescingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AHundredIdenticalRequestsAcrossThreeInstancesMakeOneProviderCallAndEachCompletesOnce()
    {
        var started = Stopwatch.StartNew();
        var lead = new Lead { FirstName = "Jane", LastName = $"Same-{Guid.NewGuid():N}", CompanyName = "Acme", CompanyDomain = "acme.com" };
        var requests = Enumerable.Range(0, 100).Select(_ => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(), Lead = lead, Fields = [EnrichmentField.Email], Providers = [ProviderName.Precept],
        }).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300));
        // The other two start side by side: start-up is most of this test's time.
        var others = await Task.WhenAll(RelayProcess.StartAsync(scenario.Settings), RelayProcess.StartAsync(scenario.Settings));
        await using var second = others[0];
        await using var third = others[1];
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), TimeSpan.FromSeconds(30));
            var elapsed = clock.Elapsed;

            var precept = scenario.Sandbox.Precept.Counters;
            var completions = requests.Select(r => Assert.Single(scenario.Bus.Completions[r.RequestId].DistinctBy(c => c.EventId))).ToList();
            var called = completions.Where(c => !c.Attempts.Single().FromCache).ToList();
            output.WriteLine($"[figure] coalescing: 100 identical requests across 3 instances (Postgres): {precept.LeadSubmissions.Values.Sum()} lead submitted " +
                             $"in {precept.SubmitCalls} provider call(s), {completions.Count} completions ({called.Count} with the call, " +
                             $"{completions.Count - called.Count} sharing it), " +
                             $"{elapsed.TotalSeconds:F1} s (start-up {started.Elapsed.TotalSeconds - elapsed.TotalSeconds:F1} s)");
            Assert.Equal(1, precept.SubmitCalls);
            Assert.Equal(1, Assert.Single(precept.LeadSubmissions).Value);
            var leader = Assert.Single(called);
            Assert.All(completions, c => Assert.Equal((leader.Outcome, leader.Emails.Single()), (c.Outcome, c.Emails.Single())));
            Assert.All(completions.Except([leader]), c =>
            {
                Assert.Equal(0m, c.CreditsCharged);
                Assert.Contains(leader.RequestId.ToString("D"), c.Attempts.Single().Detail);
            });
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }
}
