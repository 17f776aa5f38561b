using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.Extensions.DependencyInjection;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests.Providers;

public sealed class BatchFlusherTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new();
    BatchFlusher Flusher => host.Services.GetRequiredService<BatchFlusher>();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task PartialBatchWaitsForTheFlushWindowThenGoesAsOneCall()
    {
        for (var i = 0; i < 3; i++)
            await host.ReceiveAsync(LedgerTestHost.ValidRequest(lastName: $"Doe{i}"));

        var wait = await Flusher.FlushAsync("precept", CancellationToken.None);
        Assert.Equal(host.Provider.FlushWindow, wait);
        Assert.Empty(host.Provider.Calls);

        host.Time.Advance(host.Provider.FlushWindow);
        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Equal(3, Assert.Single(host.Provider.Calls).Count);
        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal(ProviderJobState.Submitted, job.State);
        Assert.Equal("job-1", job.ExternalId);
        Assert.NotNull(job.CallbackTokenHash);
        Assert.All(await host.RequestsAsync(), r => Assert.Equal((RequestState.Submitted, job.Id), (r.State, r.ProviderJobId!.Value)));
    }

    [Fact]
    public async Task FullBatchGoesWithoutWaitingAndTheRestWaitsForTheNext()
    {
        host.Provider.MaxBatchSize = 2;
        for (var i = 0; i < 3; i++)
            await host.ReceiveAsync(LedgerTestHost.ValidRequest(lastName: $"Doe{i}"));

        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Equal(2, Assert.Single(host.Provider.Calls).Count);
        Assert.Single(await host.RequestsAsync(), r => r.State == RequestState.Accepted);
    }

    [Fact]
    public async Task LeadsCutByTheCreditCapCompleteAtOnce()
    {
        for (var i = 0; i < 3; i++)
            await host.ReceiveAsync(LedgerTestHost.ValidRequest(lastName: $"Doe{i}"));
        host.Provider.Answer = leads => new SubmitResult(SubmitStatus.Accepted, "job-1",
            Completed: new Dictionary<Guid, LeadResult>
            {
                [leads[2].RequestId] = new(Outcome.InsufficientCredits, Detail: "credit cap"),
            });
        host.Time.Advance(host.Provider.FlushWindow);

        await Flusher.FlushAsync("precept", CancellationToken.None);

        var requests = await host.RequestsAsync();
        var cut = Assert.Single(requests, r => r.State == RequestState.Completed);
        Assert.Equal(Outcome.InsufficientCredits, cut.Outcome);
        var outbox = Assert.Single(await host.OutboxAsync());
        Assert.Equal(EnrichmentCompleted.EventIdFor(cut.RequestId), outbox.MessageId);
        Assert.Contains("0031t00000AbCdE", outbox.Body);
    }

    [Fact]
    public async Task RefusedBatchCompletesEveryLeadOnce()
    {
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        host.Provider.Answer = leads => new SubmitResult(SubmitStatus.Refused, Detail: "Not enough credits",
            Completed: leads.ToDictionary(l => l.RequestId, _ => new LeadResult(Outcome.InsufficientCredits, Detail: "Not enough credits")));
        host.Time.Advance(host.Provider.FlushWindow);

        await Flusher.FlushAsync("precept", CancellationToken.None);
        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Single(host.Provider.Calls);
        Assert.Equal(Outcome.InsufficientCredits, Assert.Single(await host.RequestsAsync()).Outcome);
        Assert.Single(await host.OutboxAsync());
        Assert.Equal(ProviderJobState.Refused, Assert.Single(await host.JobsAsync()).State);
    }

    [Fact]
    public async Task SubmitWithUnknownFateIsNeverPostedAgain()
    {
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        host.Provider.Answer = _ => new SubmitResult(SubmitStatus.Unknown, Detail: "connection reset");
        host.Time.Advance(host.Provider.FlushWindow);

        await Flusher.FlushAsync("precept", CancellationToken.None);
        host.Time.Advance(TimeSpan.FromMinutes(5));
        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Single(host.Provider.Calls);
        Assert.Equal(RequestState.Submitted, Assert.Single(await host.RequestsAsync()).State);
        Assert.Equal(ProviderJobState.SubmitUnknown, Assert.Single(await host.JobsAsync()).State);
        Assert.Empty(await host.OutboxAsync());
    }

    [Fact]
    public async Task LeadsNotSentWaitAndGoInTheNextBatchAfterABackoff()
    {
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        host.Provider.Answer = _ => new SubmitResult(SubmitStatus.NotSent, Detail: "connection refused");
        host.Time.Advance(host.Provider.FlushWindow);

        await Flusher.FlushAsync("precept", CancellationToken.None);
        Assert.Equal(RequestState.Accepted, Assert.Single(await host.RequestsAsync()).State);

        var backoff = await Flusher.FlushAsync("precept", CancellationToken.None);
        Assert.True(backoff > TimeSpan.Zero);
        Assert.Single(host.Provider.Calls);

        host.Provider.Answer = _ => new SubmitResult(SubmitStatus.Accepted, "job-2");
        host.Time.Advance(backoff);
        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Equal(2, host.Provider.Calls.Count);
        Assert.Equal(RequestState.Submitted, Assert.Single(await host.RequestsAsync()).State);
    }

    [Fact]
    public async Task ARetryAfterFromTheProviderIsWaitedExactly()
    {
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        host.Provider.Answer = _ => new SubmitResult(SubmitStatus.NotSent, Detail: "503", RetryAfter: TimeSpan.FromSeconds(17));
        host.Time.Advance(host.Provider.FlushWindow);
        await Flusher.FlushAsync("precept", CancellationToken.None);
        host.Provider.Answer = _ => new SubmitResult(SubmitStatus.Accepted, "job-2");

        host.Time.Advance(TimeSpan.FromSeconds(16.9));
        var left = await Flusher.FlushAsync("precept", CancellationToken.None);
        Assert.Equal(TimeSpan.FromSeconds(0.1), left);
        Assert.Single(host.Provider.Calls);

        host.Time.Advance(left);
        await Flusher.FlushAsync("precept", CancellationToken.None);
        Assert.Equal(2, host.Provider.Calls.Count);
    }

    [Fact]
    public async Task AnAnswerThatCannotBeRecordedLeavesTheJobToBeReconciledNotSubmitting()
    {
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        host.Time.Advance(host.Provider.FlushWindow);
        using var shutdownDeadline = new CancellationTokenSource();
        // The POST succeeds, then the shutdown deadline passes before its answer is saved.
        host.Provider.Answer = _ =>
        {
            shutdownDeadline.Cancel();
            return new SubmitResult(SubmitStatus.Accepted, "job-1");
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Flusher.FlushAsync("precept", shutdownDeadline.Token));

        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal(ProviderJobState.SubmitUnknown, job.State);
        Assert.Contains("could not be recorded", job.LastError);
        Assert.Equal(RequestState.Submitted, Assert.Single(await host.RequestsAsync()).State);
    }
}
