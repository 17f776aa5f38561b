using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Requests;

namespace EnrichmentRelay.Tests.Requests;

public sealed class EnrichmentIntakeTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task SameRequestIdTwiceIsStoredOnceAndAnsweredAsDuplicate()
    {
        var request = LedgerTestHost.ValidRequest();

        Assert.Equal(IntakeResult.Accepted, await host.ReceiveAsync(request));
        Assert.Equal(IntakeResult.Duplicate, await host.ReceiveAsync(request));
        Assert.Equal(IntakeResult.Duplicate, await host.ReceiveAsync(request with { Fields = [EnrichmentField.Phone] }));

        var stored = Assert.Single(await host.RequestsAsync());
        Assert.Equal(RequestState.Accepted, stored.State);
        Assert.Equal(ProviderName.Precept, stored.Provider);
        Assert.Empty(await host.OutboxAsync());
    }

    [Fact]
    public async Task InvalidRequestIsAnsweredWithOneRejectedCompletion()
    {
        var request = LedgerTestHost.ValidRequest() with { Fields = [] };

        Assert.Equal(IntakeResult.Rejected, await host.ReceiveAsync(request));
        Assert.Equal(IntakeResult.Duplicate, await host.ReceiveAsync(request));

        var completed = ReadCompleted(Assert.Single(await host.OutboxAsync()));
        Assert.Equal(request.RequestId, completed.RequestId);
        Assert.Equal(EnrichmentCompleted.EventIdFor(request.RequestId), completed.EventId);
        Assert.Equal(Outcome.Rejected, completed.Outcome);
        Assert.Contains("'fields' must name at least one of", completed.Detail);
        Assert.Equal("0031t00000AbCdE", completed.CorrelationData["crmId"]);
        Assert.Equal(RequestState.Completed, Assert.Single(await host.RequestsAsync()).State);
    }

    [Fact]
    public async Task UnidentifiableLeadIsRejectedWithTheReason()
    {
        var request = LedgerTestHost.ValidRequest() with { Lead = new Lead { CompanyName = "Acme" } };

        Assert.Equal(IntakeResult.Rejected, await host.ReceiveAsync(request));

        var completed = ReadCompleted(Assert.Single(await host.OutboxAsync()));
        Assert.Equal(Outcome.Rejected, completed.Outcome);
        Assert.Contains("No enabled provider can identify this lead", completed.Detail);
    }

    [Fact]
    public async Task RequestWithoutIdIsRejectedWithTheMessageIdAsItsEventKey()
    {
        var messageId = Guid.NewGuid();
        var request = LedgerTestHost.ValidRequest(Guid.Empty);

        Assert.Equal(IntakeResult.Rejected, await host.ReceiveAsync(request, messageId));

        var completed = ReadCompleted(Assert.Single(await host.OutboxAsync()));
        Assert.Equal(Guid.Empty, completed.RequestId);
        Assert.Equal(EnrichmentCompleted.EventIdFor(messageId), completed.EventId);
        Assert.Contains("'requestId' must be a non-empty GUID", completed.Detail);
        Assert.Empty(await host.RequestsAsync());
    }

    [Fact]
    public async Task ThirtyTwoCorrelationKeysOfOneKilobyteRoundTripUntouched()
    {
        var correlation = Enumerable.Range(0, 32).ToDictionary(
            i => $"key-{i:D2}",
            i => string.Concat(Enumerable.Repeat($"{i:D2}é\"\\<>{{}}", 1024))[..1024]);
        var request = LedgerTestHost.ValidRequest() with { CorrelationData = correlation, Fields = [] };

        await host.ReceiveAsync(request);

        var completed = ReadCompleted(Assert.Single(await host.OutboxAsync()));
        Assert.Equal(correlation, completed.CorrelationData);
    }

    static EnrichmentCompleted ReadCompleted(OutboxMessage row)
    {
        Assert.Equal(nameof(EnrichmentCompleted), row.MessageType);
        var completed = JsonSerializer.Deserialize<EnrichmentCompleted>(row.Body, RelayJson.Options)!;
        Assert.Equal(completed.EventId, row.MessageId);
        return completed;
    }
}
