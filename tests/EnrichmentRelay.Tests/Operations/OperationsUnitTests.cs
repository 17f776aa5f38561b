using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Hosting;

namespace EnrichmentRelay.Tests.Operations;

public sealed class OperationsUnitTests
{
    [Theory]
    [InlineData("http://127.0.0.1:5000/v1/jobs/8d5f0c1e-6a2b-4c3d-9e8f-1a2b3c4d5e6f", "v1/jobs/{id}")]
    [InlineData("http://127.0.0.1:5000/v1/jobs?limit=5&name=relay-0ab0b400546640839ac8ab08ea975849", "v1/jobs")]
    [InlineData("https://api.preceptai.co.uk/v1/leads/enrich", "v1/leads/enrich")]
    [InlineData("https://api.preceptai.co.uk/v1/unknown/route", "other")]
    public void PreceptCallsAreNamedByTheirRouteTemplate(string url, string expected) =>
        Assert.Equal(expected, ProviderCallMetrics.EndpointOf(new Uri(url), PreceptClient.Endpoints));

    [Theory]
    [InlineData("https://api.woodpecker.co/rest/v2/lead_finder/leads/enrichments?created_after=2026-11-22", "v2/lead_finder/leads/enrichments")]
    [InlineData("https://api.woodpecker.co/rest/v2/lead_finder/leads/enrichments/0SVOUN5zYlkzJ5fMrBxUdiQ_0000", "v2/lead_finder/leads/enrichments/{uuid}")]
    [InlineData("https://api.woodpecker.co/rest/v2/lead_finder/prospects/enrichments/statuses/query", "v2/lead_finder/prospects/enrichments/statuses/query")]
    [InlineData("https://api.woodpecker.co/rest/v1/prospects?search=email%3Dx%40y.z", "v1/prospects")]
    public void WoodpeckerCallsAreNamedByTheirRouteTemplate(string url, string expected) =>
        Assert.Equal(expected, ProviderCallMetrics.EndpointOf(new Uri(url), WoodpeckerClient.Endpoints));

    [Fact]
    public void LanceCallsAreNamedByTheirRouteTemplate() =>
        Assert.Equal("api/v1/entities/prospects/person/{id}", ProviderCallMetrics.EndpointOf(
            new Uri("https://app.lance.so/api/v1/entities/prospects/person/550e8400-e29b-41d4-a716-446655440001"), LanceClient.Endpoints));

    [Fact]
    public async Task LedgerGaugesReadTheOutboxBacklogOpenRequestsAndDeadLettersWaitingForAnOperator()
    {
        await using var host = new LedgerTestHost();
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        host.Time.Advance(TimeSpan.FromSeconds(30));
        await host.ReceiveAsync(LedgerTestHost.ValidRequest(lastName: "Roe"));
        await host.ReceiveAsync(LedgerTestHost.ValidRequest() with { Fields = [] }); // rejected: completed, its event in the outbox
        host.Time.Advance(TimeSpan.FromSeconds(10));
        await host.InScopeAsync(sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            foreach (var replayed in new DateTimeOffset?[] { null, null, host.Time.GetUtcNow() })
                db.DeadLetters.Add(new DeadLetterRecord
                {
                    Id = Guid.NewGuid(), Queue = "enrichment-requested", Body = [0x7b], HeadersJson = "{}", ExceptionType = "X", Reason = "r",
                    FaultedAt = host.Time.GetUtcNow(), ReplayedAt = replayed,
                });
            return db.SaveChangesAsync();
        });
        var sampler = new LedgerGaugeSampler(host.Services.GetRequiredService<IServiceScopeFactory>(), host.Services.GetRequiredService<RelayMetrics>(),
            host.Time, NullLogger<LedgerGaugeSampler>.Instance);

        var readings = await host.InScopeAsync(_ => sampler.ReadAsync(CancellationToken.None));

        var open = Assert.Single(readings.Open);
        Assert.Equal((ProviderName.Precept, "accepted", 2L), (open.Provider!.Value, open.State, open.Count));
        Assert.Equal(40, open.OldestAgeSeconds, precision: 3);
        Assert.Equal(1, readings.OutboxPending);
        Assert.Equal(10, readings.OutboxLagSeconds, precision: 3);
        Assert.Equal(2, readings.DeadLetters);
    }

    [Fact]
    public void AnAttributeFailureIsReportedWithItsSection()
    {
        var failure = new OptionsValidationException("", typeof(PreceptOptions),
            ["DataAnnotation validation failed for 'PreceptOptions' members: 'BatchSize' with the error: 'The field BatchSize must be between 1 and 1000.'."]);
        Assert.Equal(["Providers:Precept:BatchSize: The field BatchSize must be between 1 and 1000."], InvalidSettings.Describe(failure));
        Assert.Null(InvalidSettings.Describe(new InvalidOperationException("something else")));
    }
}
