using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Serialization;

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

    [Fact]
    public async Task ABatchStoresEachRequestIdOnceWithinTheBatchAndAcrossBatches()
    {
        var first = LedgerTestHost.ValidRequest(lastName: "First");
        var second = LedgerTestHost.ValidRequest(lastName: "Second");
        var third = LedgerTestHost.ValidRequest(lastName: "Third");

        var one = await host.ReceiveBatchAsync(
            new IncomingRequest(first, null), new IncomingRequest(second, null),
            new IncomingRequest(first, null), new IncomingRequest(first with { Fields = [EnrichmentField.Phone] }, null));
        var two = await host.ReceiveBatchAsync(new IncomingRequest(second, null), new IncomingRequest(third, null));
        // One at a time afterwards (the HTTP path) sees the batch's rows too.
        var three = await host.ReceiveAsync(third);

        Assert.Equal([IntakeResult.Accepted, IntakeResult.Accepted, IntakeResult.Duplicate, IntakeResult.Duplicate], one);
        Assert.Equal([IntakeResult.Duplicate, IntakeResult.Accepted], two);
        Assert.Equal(IntakeResult.Duplicate, three);
        var stored = await host.RequestsAsync();
        Assert.Equal(3, stored.Count);
        Assert.All(stored, r => Assert.Equal(RequestState.Accepted, r.State));
        // The first body won: email, not the phone of the repeat.
        var kept = JsonSerializer.Deserialize<EnrichmentRequested>(stored.Single(r => r.RequestId == first.RequestId).RequestJson, RelayJson.Options)!;
        Assert.Equal([EnrichmentField.Email], kept.Fields);
        Assert.Empty(await host.OutboxAsync());
    }

    [Fact]
    public async Task ABatchAnswersItsInvalidRequestsRejectedBesideTheValidOnes()
    {
        var valid = LedgerTestHost.ValidRequest();
        var noFields = LedgerTestHost.ValidRequest() with { Fields = [] };
        var keyless = LedgerTestHost.ValidRequest(Guid.Empty);
        var messageId = Guid.NewGuid();

        var results = await host.ReceiveBatchAsync(
            new IncomingRequest(valid, null), new IncomingRequest(noFields, null), new IncomingRequest(keyless, messageId),
            new IncomingRequest(noFields, null));
        var again = await host.ReceiveBatchAsync(new IncomingRequest(noFields, null));

        Assert.Equal([IntakeResult.Accepted, IntakeResult.Rejected, IntakeResult.Rejected, IntakeResult.Duplicate], results);
        Assert.Equal([IntakeResult.Duplicate], again);
        var completions = (await host.OutboxAsync()).Select(ReadCompleted).ToList();
        Assert.Equal(2, completions.Count);
        Assert.All(completions, c => Assert.Equal(Outcome.Rejected, c.Outcome));
        Assert.Contains("'fields' must name at least one of", completions.Single(c => c.RequestId == noFields.RequestId).Detail);
        Assert.Equal(EnrichmentCompleted.EventIdFor(messageId), completions.Single(c => c.RequestId == Guid.Empty).EventId);
        var stored = await host.RequestsAsync();
        Assert.Equal(RequestState.Accepted, stored.Single(r => r.RequestId == valid.RequestId).State);
        Assert.Equal(RequestState.Completed, stored.Single(r => r.RequestId == noFields.RequestId).State);
    }

    [Fact]
    public async Task EachRequestOfABatchKeepsTheTraceOfTheMessageThatBroughtIt()
    {
        var one = LedgerTestHost.ValidRequest(lastName: "One");
        var two = LedgerTestHost.ValidRequest(lastName: "Two");
        const string first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        const string second = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

        await host.ReceiveBatchAsync(new IncomingRequest(one, null, first), new IncomingRequest(two, null, second));

        var stored = await host.RequestsAsync();
        Assert.Equal(first, stored.Single(r => r.RequestId == one.RequestId).TraceParent);
        Assert.Equal(second, stored.Single(r => r.RequestId == two.RequestId).TraceParent);
    }

    static EnrichmentCompleted ReadCompleted(OutboxMessage row)
    {
        Assert.Equal(nameof(EnrichmentCompleted), row.MessageType);
        var completed = JsonSerializer.Deserialize<EnrichmentCompleted>(row.Body, RelayJson.Options)!;
        Assert.Equal(completed.EventId, row.MessageId);
        return completed;
    }
}
