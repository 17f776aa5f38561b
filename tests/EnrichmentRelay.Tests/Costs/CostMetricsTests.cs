using System.Diagnostics.Metrics;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EnrichmentRelay.Tests.Costs;

/// <summary>The counters Prometheus computes hit rate and credits per contact from, counted when a completion is committed.</summary>
public sealed class CostMetricsTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await host.DisposeAsync();

    async Task CompleteAsync(ProviderName provider, EnrichmentField[] fields, CompletionResult result) => await host.InScopeAsync(async sp =>
    {
        var db = sp.GetRequiredService<RelayDbContext>();
        var request = LedgerTestHost.ValidRequest() with { Fields = fields };
        var record = new EnrichmentRequestRecord
        {
            RequestId = request.RequestId, State = RequestState.Submitted, Provider = provider,
            RequestJson = JsonSerializer.Serialize(request, RelayJson.Options), AcceptedAt = host.Time.GetUtcNow(),
        };
        db.Requests.Add(record);
        await db.SaveChangesAsync();
        var completion = sp.GetRequiredService<RequestCompletion>();
        Assert.True(completion.Complete(record, result));
        await completion.SaveAsync(CancellationToken.None);
        return true;
    });

    static long Sum(MetricCollector<long> collector, string provider, string field) => collector.GetMeasurementSnapshot()
        .Where(m => Equals(m.Tags["provider"], provider) && Equals(m.Tags["field"], field)).Sum(m => m.Value);

    [Fact]
    public async Task FieldsRequestedAndContactsFoundAreCountedPerProviderAndField()
    {
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var requested = new MetricCollector<long>(meters, RelayMetrics.MeterName, "relay.fields.requested");
        using var found = new MetricCollector<long>(meters, RelayMetrics.MeterName, "relay.contacts.found");

        await CompleteAsync(ProviderName.Lance, [EnrichmentField.Email, EnrichmentField.Phone],
            new CompletionResult(Outcome.Found, Emails: ["jane@acme.com"], Phones: [], CreditsCharged: 1m));
        await CompleteAsync(ProviderName.Lance, [EnrichmentField.Phone],
            new CompletionResult(Outcome.Found, Phones: ["+15550100"], CreditsCharged: 1m));
        await CompleteAsync(ProviderName.Woodpecker, [EnrichmentField.Email], new CompletionResult(Outcome.NotFound, CreditsCharged: 0m));

        Assert.Equal(1, Sum(requested, "lance", "email"));
        Assert.Equal(2, Sum(requested, "lance", "phone"));
        Assert.Equal(1, Sum(found, "lance", "email"));
        Assert.Equal(1, Sum(found, "lance", "phone"));
        Assert.Equal(1, Sum(requested, "woodpecker", "email"));
        Assert.Equal(0, Sum(found, "woodpecker", "email"));
        Assert.Equal(0, Sum(requested, "precept", "email"));
    }
}
