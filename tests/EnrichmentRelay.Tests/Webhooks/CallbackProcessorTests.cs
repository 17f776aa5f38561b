using System.Diagnostics.Metrics;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests.Webhooks;

public sealed class CallbackProcessorTests : IAsyncLifetime
{
    readonly HeldElsewhere otherInstance = new();
    readonly LedgerTestHost host;
    List<EnrichmentRequested> requests = [];
    ProviderJobRecord job = null!;

    public CallbackProcessorTests() =>
        host = new LedgerTestHost((services, _) => services.AddSingleton<ICrossInstanceLock>(otherInstance));

    public async Task InitializeAsync()
    {
        requests = Enumerable.Range(0, 3).Select(i => LedgerTestHost.ValidRequest(lastName: $"Doe{i}")).ToList();
        foreach (var request in requests)
            await host.ReceiveAsync(request);
        host.Time.Advance(host.Provider.FlushWindow);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        job = Assert.Single(await host.JobsAsync());
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task AJobAnotherInstanceIsApplyingIsPassedOverAndAppliedOnceItIsFree()
    {
        await StoreAsync(Callback("job-1", "completed", Result(0, email: "doe0@acme.com"), Result(1, error: "Lead not found"), Result(2)));
        otherInstance.Holding = true;

        Assert.Equal(0, await ApplyAsync());
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(RequestState.Submitted, r.State));
        Assert.Empty(await host.OutboxAsync());
        Assert.Equal(1, await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderCallbacks.CountAsync(c => c.ProcessedAt == null)));

        otherInstance.Holding = false;
        Assert.Equal(1, await ApplyAsync());
        Assert.Equal(3, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task DuplicatedCallbacksCompleteEachLeadOnceAndAreCountedAsDuplicates()
    {
        var duplicated = 0L;
        using var listener = Listen<long>("relay.callbacks.duplicated", value => duplicated += value);
        var body = Callback("job-1", null, Result(0, email: "doe0@acme.com"), Result(1, error: "Lead not found"));

        // Three deliveries of one body, applied in one round: the first counts, the other two are its duplicates.
        await StoreAsync(body);
        await StoreAsync(body);
        await StoreAsync(body);
        await ApplyAsync();
        Assert.Equal(2, duplicated);

        var outbox = await host.OutboxAsync();
        Assert.Equal(2, outbox.Count);
        var byRequest = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        Assert.Equal(Outcome.Found, byRequest[requests[0].RequestId].Outcome);
        Assert.Equal(Outcome.NotFound, byRequest[requests[1].RequestId].Outcome);
        Assert.Equal(RequestState.Submitted, byRequest[requests[2].RequestId].State);

        var found = JsonSerializer.Deserialize<EnrichmentCompleted>(outbox.Single(o => o.Body.Contains("found\"") && o.Body.Contains("doe0")).Body,
            EnrichmentRelay.Serialization.RelayJson.Options)!;
        Assert.Equal(["doe0@acme.com"], found.Emails);
        Assert.Equal("job-1", found.ProviderJobId);
        Assert.Equal("job-1", Assert.Single(found.Attempts).ProviderJobId);
    }

    [Fact]
    public async Task StreamedCallbacksCompleteLeadByLeadAndTheJobWhenAllAreIn()
    {
        await StoreAsync(Callback("job-1", null, Result(0, email: "a@acme.com")));
        await StoreAsync(Callback("job-1", null, Result(1, email: "b@acme.com")));
        await ApplyAsync();
        Assert.Equal(ProviderJobState.Submitted, Assert.Single(await host.JobsAsync()).State);

        await StoreAsync(Callback("job-1", null, Result(2, email: "c@acme.com")));
        await ApplyAsync();

        Assert.All(await host.RequestsAsync(), r => Assert.Equal(Outcome.Found, r.Outcome));
        Assert.Equal(ProviderJobState.Completed, Assert.Single(await host.JobsAsync()).State);
        Assert.Equal(3, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task CompletedJobWithoutAResultForALeadReportsItSkippedNotNotFound()
    {
        await StoreAsync(Callback("job-1", "completed", Result(0, email: "a@acme.com")));
        await ApplyAsync();

        // Precept did not look for them: not an answer about the lead, so never NotFound.
        var skipped = (await host.RequestsAsync()).Where(r => r.RequestId != requests[0].RequestId).ToList();
        Assert.All(skipped, r => Assert.Equal(Outcome.Failed, r.Outcome));
        Assert.All(skipped, r => Assert.Contains("skipped", r.Detail));
    }

    [Fact]
    public async Task ResultsWithoutOurRequestIdAreMatchedByTheLeadPreceptEchoes()
    {
        // No custom data echoed (only [S] sources say Precept echoes it on lead results): name + company, either naming.
        await StoreAsync(Callback("job-1", "completed",
            Echoed(new { first_name = "JANE", last_name = "doe1", company_name = " Acme ", enrich_email = "b@acme.com" }),
            Echoed(new { firstName = "Jane", lastName = "Doe0", companyDomain = "https://www.acme.com/", enrichEmail = "a@acme.com" }),
            Echoed(new { first_name = "Jane", last_name = "Doe2", company_name = "Acme", error = "Lead not found" })));
        await ApplyAsync();

        var byRequest = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        Assert.Equal(["a@acme.com"], LedgerViews.ReadList(byRequest[requests[0].RequestId].EmailsJson));
        Assert.Equal(["b@acme.com"], LedgerViews.ReadList(byRequest[requests[1].RequestId].EmailsJson));
        Assert.Equal(Outcome.NotFound, byRequest[requests[2].RequestId].Outcome);
    }

    [Fact]
    public async Task AResultThatMatchesNoLeadFailsTheLeadsLeftWithoutOneNeverNotFound()
    {
        await StoreAsync(Callback("job-1", "completed", Result(0, email: "a@acme.com"),
            Echoed(new { first_name = "Someone", last_name = "Else", company_name = "Elsewhere", enrich_email = "x@elsewhere.com" })));
        await ApplyAsync();

        var left = (await host.RequestsAsync()).Where(r => r.RequestId != requests[0].RequestId).ToList();
        Assert.All(left, r => Assert.Equal(Outcome.Failed, r.Outcome));
        Assert.All(left, r => Assert.Contains("result could not be matched", r.Detail));
    }

    [Fact]
    public async Task AFailedJobStillAppliesTheResultsItCarries()
    {
        await StoreAsync(Callback("job-1", "failed", Result(0, email: "a@acme.com")));
        await ApplyAsync();

        var byRequest = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        Assert.Equal(Outcome.Found, byRequest[requests[0].RequestId].Outcome);
        Assert.Equal(Outcome.Failed, byRequest[requests[1].RequestId].Outcome);
        Assert.Contains("failed", byRequest[requests[1].RequestId].Detail);
    }

    [Fact]
    public async Task ACallbackWithANonNumericCostIsAppliedAndStopsNothing()
    {
        await StoreAsync(Callback("job-1", "completed", Result(0, email: "a@acme.com")).Replace("\"status\"", "\"cost\":{\"credits\":\"lots\"},\"status\""));
        await ApplyAsync();

        Assert.Equal(Outcome.Found, (await host.RequestsAsync()).Single(r => r.RequestId == requests[0].RequestId).Outcome);
        Assert.Null(Assert.Single(await host.JobsAsync()).CreditsCharged);
    }

    [Fact]
    public async Task FailedJobFailsEveryOpenLead()
    {
        await StoreAsync(Callback("job-1", "failed"));
        await ApplyAsync();

        Assert.All(await host.RequestsAsync(), r => Assert.Equal(Outcome.Failed, r.Outcome));
    }

    [Fact]
    public async Task CallbackNamingAnotherJobIsIgnored()
    {
        await StoreAsync(Callback("someone-elses-job", "completed", Result(0, email: "a@acme.com")));
        await ApplyAsync();

        Assert.All(await host.RequestsAsync(), r => Assert.Equal(RequestState.Submitted, r.State));
        Assert.Empty(await host.OutboxAsync());
    }

    [Fact]
    public async Task TheJobsCostIsRecordedAndCountedOnceHoweverOftenItIsReported()
    {
        var charged = 0.0;
        using var listener = Listen<double>("relay.credits.charged", value => charged += value);
        var final = PreceptJobReport.Read(JsonDocument.Parse(
            Callback("job-1", "completed", Result(0, email: "a@acme.com"), Result(1, email: "b@acme.com"), Result(2, error: "Lead not found"))
                .Replace("\"status\"", "\"cost\":{\"credits\":7},\"status\"")).RootElement);

        // The callback's report, then the same job as the sweep reads it, each in its own unit of work.
        foreach (var _ in new[] { "callback", "sweep" })
            await host.InScopeAsync(async sp =>
            {
                var db = sp.GetRequiredService<RelayDbContext>();
                var results = sp.GetRequiredService<JobResults>();
                var work = await results.OpenAsync(await db.ProviderJobs.SingleAsync(j => j.Id == job.Id), CancellationToken.None);
                await results.ApplyAsync(work, PreceptTranslation.Reading(work.View(), final, NullLogger.Instance), CancellationToken.None);
                await sp.GetRequiredService<RequestCompletion>().SaveAsync(CancellationToken.None);
                return 0;
            });

        Assert.Equal(7m, Assert.Single(await host.JobsAsync()).CreditsCharged);
        Assert.Equal(7.0, charged);
        // Precept says what the job cost, not what each lead did.
        Assert.All(await host.RequestsAsync(), r => Assert.Null(r.CreditsCharged));
    }

    string Result(int lead, string? email = null, string? error = null) => JsonSerializer.Serialize(new
    {
        custom_data = new { rid = requests[lead].RequestId.ToString() },
        enrich_email = email,
        enrich_phone = (string?)null,
        error,
    });

    static string Echoed(object item) => JsonSerializer.Serialize(item);

    static string Callback(string enrichmentId, string? status, params string[] results) =>
        $$"""{"enrichment_id":"{{enrichmentId}}",{{(status is null ? "" : $"\"status\":\"{status}\",")}}"results":[{{string.Join(',', results)}}]}""";

    Task StoreAsync(string body) => host.InScopeAsync(async sp =>
    {
        var db = sp.GetRequiredService<RelayDbContext>();
        db.ProviderCallbacks.Add(new ProviderCallbackRecord { ProviderJobId = job.Id, Body = body, ReceivedAt = host.Time.GetUtcNow() });
        return await db.SaveChangesAsync();
    });

    /// <summary>Hears what this host's meters (created by its IMeterFactory) record on <paramref name="instrument"/>: other tests record in parallel.</summary>
    MeterListener Listen<T>(string instrument, Action<T> measured) where T : struct
    {
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener();
        listener.InstrumentPublished = (published, l) =>
        {
            if (published.Name == instrument && published.Meter.Scope == meters)
                l.EnableMeasurementEvents(published);
        };
        listener.SetMeasurementEventCallback<T>((_, value, _, _) => measured(value));
        listener.Start();
        return listener;
    }

    Task<int> ApplyAsync() => host.Services.GetRequiredService<CallbackProcessor>().ApplyPendingAsync(CancellationToken.None);

    /// <summary>Another instance holding whatever lock is asked for while <see cref="Holding"/>; otherwise no one.</summary>
    sealed class HeldElsewhere : ICrossInstanceLock
    {
        public bool Holding { get; set; }
        public Task<IAsyncDisposable?> TakeAsync(long key, CancellationToken ct) => throw new NotSupportedException();
        public Task<IAsyncDisposable?> TryTakeAsync(long key, CancellationToken ct) =>
            Task.FromResult(Holding ? null : (IAsyncDisposable?)new Free());

        sealed class Free : IAsyncDisposable
        {
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
