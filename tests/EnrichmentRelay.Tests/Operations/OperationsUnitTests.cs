using System.Diagnostics.Metrics;
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
using EnrichmentRelay.Tests.Sandbox;

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
    public async Task TheLedgerIsReadAgainOnlyOnceACollectionHasReportedTheLastReading()
    {
        await using var host = new LedgerTestHost();
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        var metrics = host.Services.GetRequiredService<RelayMetrics>();
        using var openRequests = new OpenRequestsGauge(host);

        var asked = metrics.LedgerGaugesCollected.WaitAsync(CancellationToken.None);
        Assert.False(asked.IsCompleted); // nothing collected: no reason to read
        openRequests.Collect();
        Assert.True(asked.IsCompleted);
        var askedAgain = metrics.LedgerGaugesCollected.WaitAsync(CancellationToken.None);
        Assert.False(askedAgain.IsCompleted); // one collection asks for one reading
        openRequests.Collect();
        Assert.True(askedAgain.IsCompleted);

        // The sampler: a reading at its start; the next once a collection reported it and the interval has passed.
        var sampler = new LedgerGaugeSampler(host.Services.GetRequiredService<IServiceScopeFactory>(), metrics,
            host.Time, NullLogger<LedgerGaugeSampler>.Instance);
        await sampler.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.ReturnsAsync(openRequests.Collect, open => open == 1, "the reading at start");
            await host.ReceiveAsync(LedgerTestHost.ValidRequest(lastName: "Roe"));
            await Eventually.ReturnsAsync(() =>
            {
                host.Time.Advance(LedgerGaugeSampler.Interval);
                return openRequests.Collect();
            }, open => open == 2, "a reading asked for by a collection");
        }
        finally
        {
            await sampler.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>The open requests a collection of <c>relay.requests.open</c> reports, all providers and states summed.</summary>
    sealed class OpenRequestsGauge : IDisposable
    {
        readonly MeterListener listener = new();
        long total;

        public OpenRequestsGauge(LedgerTestHost host)
        {
            var meters = host.Services.GetRequiredService<IMeterFactory>();
            listener.InstrumentPublished = (published, l) =>
            {
                if (published.Name == "relay.requests.open" && published.Meter.Scope == meters)
                    l.EnableMeasurementEvents(published);
            };
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => total += value);
            listener.Start();
        }

        public long Collect()
        {
            total = 0;
            listener.RecordObservableInstruments();
            return total;
        }

        public void Dispose() => listener.Dispose();
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
