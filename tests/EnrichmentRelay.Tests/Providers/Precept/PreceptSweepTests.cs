using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Webhooks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Hosting;

namespace EnrichmentRelay.Tests.Providers.Precept;

/// <summary>The webhook's safety nets against the Precept sandbox on loopback, on one fake clock.</summary>
public sealed class PreceptSweepTests(ITestOutputHelper output) : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly PreceptOptions options = new() { ApiKey = "k", FlushWindow = TimeSpan.Zero, VerifyCallbacks = true };
    readonly SubmitHold queue = new();

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddSingleton(Options.Create(options));
            services.AddHttpClient<PreceptClient>(http =>
            {
                http.BaseAddress = options.BaseUrl;
                http.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
            })
                // Where the pipeline's concurrency limit sits in production: a submit held here is queued, not sent.
                .AddHttpMessageHandler(() => new HoldingHandler(queue))
                .AddHttpMessageHandler(() => new JobReadHook(this))
                .AddHttpMessageHandler(() => new SubmitStartHandler())
                .AddProviderPauseWatch(ProviderName.Precept)
                .AddProviderAnswers(ProviderName.Precept, PreceptClient.Endpoints);
            services.AddScoped<IEnrichmentProvider, PreceptProvider>();
            services.AddScoped<PreceptJobFinder>();
            services.AddScoped<IJobReader, PreceptJobReader>();
        }, scriptedProvider: false);
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { PreceptApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = sandbox.BaseAddress;
        sandbox.Precept.Settings.DropWebhooks = true; // the callbacks never come: only the safety nets can finish
        sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    [Fact]
    public async Task JobWhoseCallbackNeverComesIsRescuedByTheSweep()
    {
        var request = await SubmitAsync();
        await WaitForSandboxJobAsync("completed");

        Assert.Equal(0, await SweepAsync()); // still within the grace period
        host.Time.Advance(options.CallbackGrace);
        var rescued = await SweepAsync();

        output.WriteLine($"[figure] Precept sweep rescued {rescued} request(s) whose callback never came");
        Assert.Equal(1, rescued);
        var record = await RecordAsync(request);
        Assert.Equal(Outcome.Found, record.Outcome);
        Assert.Equal(ProviderJobState.Completed, Assert.Single(await host.JobsAsync()).State);
    }

    [Fact]
    public async Task SubmitWhoseAnswerWasLostIsFoundByNameAndNeverSentTwice()
    {
        sandbox.Precept.DropConnectionAfterAcceptNext(1);
        var request = await SubmitAsync();
        Assert.Equal(ProviderJobState.SubmitUnknown, Assert.Single(await host.JobsAsync()).State);
        await WaitForSandboxJobAsync("completed");

        await SweepAsync();

        Assert.Equal(Outcome.Found, (await RecordAsync(request)).Outcome);
        Assert.Equal(1, sandbox.Precept.Counters.SubmitCalls);
        Assert.All(sandbox.Precept.Counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ForgedCallbackBodyIsCheckedAgainstPreceptBeforeAnythingIsEmitted()
    {
        var request = await SubmitAsync();
        await WaitForSandboxJobAsync("completed");
        var job = Assert.Single(await host.JobsAsync());
        var forged = $$"""{"enrichment_id":"{{job.ExternalId}}","status":"completed","results":[{"custom_data":{"rid":"{{request.RequestId}}"},"enrich_email":"forged@evil.example"}]}""";
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.ProviderCallbacks.Add(new ProviderCallbackRecord { ProviderJobId = job.Id, Body = forged, ReceivedAt = host.Time.GetUtcNow() });
            return await db.SaveChangesAsync();
        });

        await host.Services.GetRequiredService<CallbackProcessor>().ApplyPendingAsync(CancellationToken.None);

        var record = await RecordAsync(request);
        Assert.Equal(Outcome.Found, record.Outcome);
        Assert.Equal(["jane.doe@acme.com"], LedgerViews.ReadList(record.EmailsJson));
    }

    [Fact]
    public async Task AJobCutOffBeforeItsAnswerWasRecordedIsReconciledOnceItCannotStillBeInFlight()
    {
        var request = await SubmitAsync();
        await WaitForSandboxJobAsync("completed");
        // As a kill -9 right after the POST leaves it: the intent committed, Precept's answer never recorded.
        await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderJobs
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.State, ProviderJobState.Submitting).SetProperty(j => j.ExternalId, (string?)null)));

        await SweepAsync();
        Assert.Equal(ProviderJobState.Submitting, Assert.Single(await host.JobsAsync()).State); // its POST might still be running
        host.Time.Advance(options.RequestTimeout * 3 + TimeSpan.FromMinutes(1));
        await SweepAsync();

        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal(sandbox.Precept.Jobs.Single().EnrichmentId, job.ExternalId); // found again by its unique name
        Assert.Equal(Outcome.Found, (await RecordAsync(request)).Outcome);
        Assert.Equal(1, sandbox.Precept.Counters.SubmitCalls);
    }

    /// <summary>How the job listing may look: only <c>?limit=1</c> is documented (providers.md §2.2 (c)).</summary>
    public static TheoryData<string> ListingModes => ["nameFilter", "documentedOnly", "nextLinkWithoutNames", "pagedWithoutNames"];

    void UseListing(string mode)
    {
        var settings = sandbox.Precept.Settings;
        switch (mode)
        {
            case "documentedOnly":
                settings.UseDocumentedOnly();
                break;
            case "nextLinkWithoutNames":
                settings.ListFiltersByName = false;
                settings.ListShowsName = false;
                settings.ListShape = EnrichmentRelay.Sandbox.Precept.JobListShape.DataWithNextLink;
                settings.ListPageSize = 2;
                break;
            case "pagedWithoutNames":
                settings.ListFiltersByName = false;
                settings.ListShowsName = false;
                settings.ListShape = EnrichmentRelay.Sandbox.Precept.JobListShape.ResultsPaged;
                settings.ListPageSize = 2;
                settings.EchoCustomData = false;
                break;
        }
    }

    [Theory]
    [MemberData(nameof(ListingModes))]
    public async Task ALostSubmitIsFoundAtPreceptWhateverItsJobListingLooksLike(string mode)
    {
        UseListing(mode);
        sandbox.Precept.DropConnectionAfterAcceptNext(1);
        var lost = await SubmitAsync(lastName: "Lost");
        Assert.Equal(ProviderJobState.SubmitUnknown, Assert.Single(await host.JobsAsync()).State);
        // Newer jobs push the lost one off the listing's first page.
        var others = new List<EnrichmentRequested>();
        for (var i = 0; i < 5; i++)
            others.Add(await SubmitAsync(lastName: $"Other{i}"));
        await WaitForSandboxJobsAsync(6, "completed");

        await SweepAsync();

        var job = (await host.JobsAsync()).Single(j => j.ExternalId == sandbox.Precept.Jobs[0].EnrichmentId);
        Assert.Equal((await RecordAsync(lost)).ProviderJobId, job.Id);
        Assert.Equal(Outcome.Found, (await RecordAsync(lost)).Outcome);
        Assert.Equal(6, sandbox.Precept.Counters.SubmitCalls);
        Assert.All(sandbox.Precept.Counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
        output.WriteLine($"[figure] Precept lost submit found with listing '{mode}': {sandbox.Precept.Counters.JobListCalls} list calls, " +
                         $"{sandbox.Precept.Counters.JobStatusCalls} job reads");
    }

    [Fact]
    public async Task ALostSubmitPreceptDoesNotShowIsParkedForAnOperatorNeverSentAgain()
    {
        sandbox.Precept.Settings.UseDocumentedOnly();
        sandbox.Precept.FailNextSubmits(1, 502); // the answer says nothing about whether the job exists
        var request = await SubmitAsync();
        Assert.Equal(ProviderJobState.SubmitUnknown, Assert.Single(await host.JobsAsync()).State);

        await SweepAsync();
        Assert.Equal(ProviderJobState.SubmitUnknown, Assert.Single(await host.JobsAsync()).State); // still looking
        host.Time.Advance(options.ReconcileAfter);
        await SweepAsync();
        await SweepAsync();

        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal(ProviderJobState.NeedsAttention, job.State);
        Assert.Contains($"/admin/jobs/{job.Id}/resend", job.LastError);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);
        Assert.Equal(1, sandbox.Precept.Counters.SubmitCalls);

        // Parked, but not past the deadline.
        host.Time.Advance(options.Deadline);
        await SweepAsync();
        Assert.Equal(Outcome.TimedOut, (await RecordAsync(request)).Outcome);
        Assert.Equal(1, sandbox.Precept.Counters.SubmitCalls);
    }

    [Fact]
    public async Task WithResendUnfoundSubmitsOnALostSubmitPreceptDoesNotShowIsSentAgain()
    {
        options.ResendUnfoundSubmits = true;
        sandbox.Precept.Settings.UseDocumentedOnly();
        sandbox.Precept.FailNextSubmits(1, 502);
        var request = await SubmitAsync();

        host.Time.Advance(options.ReconcileAfter);
        await SweepAsync();
        Assert.Equal(RequestState.Accepted, (await RecordAsync(request)).State);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);

        Assert.Equal(2, sandbox.Precept.Counters.SubmitCalls);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);
    }

    [Fact]
    public async Task ASubmitQueuedBehindTheConcurrencyLimitIsNotAnOrphanUntilItsPostLeaves()
    {
        queue.Hold();
        var request = LedgerTestHost.ValidRequest();
        await host.ReceiveAsync(request);
        var flush = host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        await queue.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Ten minutes in the queue: far past the orphan window counted from the intent, but its POST has not left.
        host.Time.Advance(TimeSpan.FromMinutes(10));
        // And once it leaves, Precept is slow to answer: longer than anything the clock is moved below, until the end.
        sandbox.Precept.Settings.SubmitLatency = TimeSpan.FromMinutes(30);
        var submitsBefore = sandbox.Precept.Counters.SubmitCalls;
        queue.Release();
        await WaitUntilAsync(() => sandbox.Precept.Counters.SubmitCalls > submitsBefore);
        var started = Assert.Single(await host.JobsAsync());
        Assert.Equal(host.Time.GetUtcNow(), started.SubmitStartedAt);

        host.Time.Advance(SubmitCalls.OrphanWindow(options.RequestTimeout) / 2);
        await SweepAsync();
        Assert.Equal(ProviderJobState.Submitting, Assert.Single(await host.JobsAsync()).State); // its POST may still be running

        host.Time.Advance(TimeSpan.FromMinutes(30));
        await flush.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ProviderJobState.Submitted, Assert.Single(await host.JobsAsync()).State);
        Assert.Equal(1, sandbox.Precept.Counters.SubmitCalls);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);
    }

    [Fact]
    public async Task AQueuedSubmitWhoseJobWasTakenOverSendsNothing()
    {
        queue.Hold();
        var request = LedgerTestHost.ValidRequest();
        await host.ReceiveAsync(request);
        var flush = host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        await queue.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // As if its instance had died: past the window, the sweep takes the never-started job over and puts its lead back.
        host.Time.Advance(SubmitCalls.OrphanWindow(options.RequestTimeout));
        await SweepAsync();
        Assert.Equal(RequestState.Accepted, (await RecordAsync(request)).State);
        queue.Release();
        await flush.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, sandbox.Precept.Counters.SubmitCalls); // the queued POST saw the job was gone and stayed home

        queue.Hold();
        queue.Release();
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        Assert.Equal(1, sandbox.Precept.Counters.SubmitCalls);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);
    }

    [Fact]
    public async Task ABatchPreceptRefusesWith400IsSplitUntilOnlyTheBadLeadIsRejected()
    {
        var requests = new List<EnrichmentRequested>();
        for (var i = 0; i < 7; i++)
            requests.Add(await ReceiveAsync(LedgerTestHost.ValidRequest(lastName: $"Doe{i}")));
        // A lead Precept refuses (no LinkedIn URL and no name + company) that got past intake, as a future rule change could let.
        var bad = requests[4];
        await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Requests.Where(r => r.RequestId == bad.RequestId)
            .ExecuteUpdateAsync(set => set.SetProperty(r => r.RequestJson, $$"""{"requestId":"{{bad.RequestId}}","lead":{"firstName":"Only"},"fields":["email"]}""")));

        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);

        var records = await host.RequestsAsync();
        Assert.Equal(Outcome.Rejected, records.Single(r => r.RequestId == bad.RequestId).Outcome);
        Assert.Contains("Precept refused the lead", records.Single(r => r.RequestId == bad.RequestId).Detail);
        Assert.All(records.Where(r => r.RequestId != bad.RequestId), r => Assert.Equal(RequestState.Submitted, r.State));
        Assert.Equal(6, sandbox.Precept.Counters.LeadSubmissions.Count);
        Assert.All(sandbox.Precept.Counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
        output.WriteLine($"[figure] a 400 on a batch of 7 with 1 bad lead: {sandbox.Precept.Counters.SubmitCalls} submit calls to isolate it");
    }

    [Fact]
    public async Task ARotatedKeyPausesPreceptRequestsWaitAndItResumesOnceTheKeyWorks()
    {
        var pauses = host.Services.GetRequiredService<ProviderPauses>();
        sandbox.Precept.RotateApiKey("k2");
        var request = await ReceiveAsync(LedgerTestHost.ValidRequest());
        var flusher = host.Services.GetRequiredService<BatchFlusher>();

        await flusher.FlushAsync("precept", CancellationToken.None);
        Assert.True(pauses.IsPaused(ProviderName.Precept));
        Assert.Equal(RequestState.Accepted, (await RecordAsync(request)).State); // not failed: waiting
        var health = await new ProviderPausesHealthCheck(pauses).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("Precept", health.Description);

        Assert.Equal(1, pauses.Current[ProviderName.Precept].Refusals);
        await flusher.FlushAsync("precept", CancellationToken.None); // paused: no call at all
        Assert.Equal(1, pauses.Current[ProviderName.Precept].Refusals);
        host.Time.Advance(new ProviderPauseOptions().FirstProbe);
        await flusher.FlushAsync("precept", CancellationToken.None); // the probe: refused again
        Assert.Equal(2, pauses.Current[ProviderName.Precept].Refusals);
        Assert.Equal(0, sandbox.Precept.Counters.JobsCreated);

        sandbox.Precept.RotateApiKey("k"); // the operator puts the right key back (here: the relay's key works again)
        host.Time.Advance(new ProviderPauseOptions().MaxProbe);
        await flusher.FlushAsync("precept", CancellationToken.None);
        Assert.False(pauses.IsPaused(ProviderName.Precept));
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);
        Assert.Equal(HealthStatus.Healthy, (await new ProviderPausesHealthCheck(pauses).CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public async Task ACallbackThatCannotBeAppliedBacksOffThenIsADeadLetterWhileTheOtherJobsCallbacksApply()
    {
        var stuck = await SubmitAsync(lastName: "Stuck");
        var fine = await SubmitAsync(lastName: "Fine");
        await WaitForSandboxJobsAsync(2, "completed");
        var jobs = await host.JobsAsync();
        var (stuckId, fineId) = ((await RecordAsync(stuck)).ProviderJobId, (await RecordAsync(fine)).ProviderJobId);
        var stuckJob = jobs.Single(j => j.Id == stuckId);
        var fineJob = jobs.Single(j => j.Id == fineId);
        // Its verification read fails every time: the callback can never be applied.
        sandbox.Precept.FailReadsOf(stuckJob.ExternalId!);
        foreach (var job in new[] { stuckJob, fineJob })
            await host.InScopeAsync(async sp =>
            {
                var db = sp.GetRequiredService<RelayDbContext>();
                db.ProviderCallbacks.Add(new ProviderCallbackRecord
                {
                    ProviderJobId = job.Id, ReceivedAt = host.Time.GetUtcNow(),
                    Body = $$"""{"enrichment_id":"{{job.ExternalId}}","status":"completed","results":[]}""",
                });
                return await db.SaveChangesAsync();
            });
        var processor = host.Services.GetRequiredService<CallbackProcessor>();

        await processor.ApplyPendingAsync(CancellationToken.None);

        Assert.Equal(Outcome.Found, (await RecordAsync(fine)).Outcome);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(stuck)).State);
        Assert.Equal(1, (await host.JobsAsync()).Single(j => j.Id == stuckJob.Id).ReadFailures);
        for (var i = 1; i < new JobsOptions().MaxReadFailures; i++)
        {
            host.Time.Advance(TimeSpan.FromMinutes(15));
            await processor.ApplyPendingAsync(CancellationToken.None);
        }
        var letter = Assert.Single(await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().DeadLetters.AsNoTracking().ToListAsync()));
        Assert.Equal(JobPolls.RetryQueue, letter.Queue);
        Assert.Contains(stuckJob.Name, letter.Reason);
        Assert.All(await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderCallbacks.AsNoTracking().ToListAsync()),
            c => Assert.NotNull(c.ProcessedAt)); // set aside: the sweep still reads the job from Precept
    }

    [Fact]
    public async Task CallbacksOfARunningJobShareAFreshVerificationReadAndOneSayingItEndedIsAlwaysReadBack()
    {
        sandbox.Precept.Settings.HoldJobsOpen = true; // the job ends, but Precept shows it processing
        var request = await SubmitAsync();
        await WaitForSandboxJobAsync("completed");
        var job = Assert.Single(await host.JobsAsync());
        var processor = host.Services.GetRequiredService<CallbackProcessor>();
        var readsBefore = sandbox.Precept.Counters.JobStatusCalls;

        await StoreCallbackAsync(job, "processing");
        await processor.ApplyPendingAsync(CancellationToken.None);
        Assert.Equal(readsBefore + 1, sandbox.Precept.Counters.JobStatusCalls);
        // The read that found it running is kept with the job, as every answer is, though the callback changed nothing.
        var (answers, links) = await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            return (await db.ProviderAnswers.AsNoTracking().Where(a => a.Endpoint == "GET v1/jobs/{id}").ToListAsync(),
                await db.ProviderAnswerLinks.AsNoTracking().ToListAsync());
        });
        var read = Assert.Single(answers);
        Assert.Contains("processing", read.Body);
        Assert.Contains(links, l => l.AnswerId == read.Id && l.JobId == job.Id);

        // Within the read's freshness: it answers them, and they are applied (nothing to apply) without another read.
        await StoreCallbackAsync(job, "processing");
        await StoreCallbackAsync(job, "processing");
        await processor.ApplyPendingAsync(CancellationToken.None);
        Assert.Equal(readsBefore + 1, sandbox.Precept.Counters.JobStatusCalls);
        Assert.All(await CallbacksAsync(), c => Assert.NotNull(c.ProcessedAt));
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);

        // Once it is no longer fresh, the job is read again.
        host.Time.Advance(CallbackProcessor.RunningReadFreshFor);
        await StoreCallbackAsync(job, "processing");
        await processor.ApplyPendingAsync(CancellationToken.None);
        Assert.Equal(readsBefore + 2, sandbox.Precept.Counters.JobStatusCalls);

        // A callback that says the job ended is read back however fresh the last read, and the read is what is applied.
        sandbox.Precept.Settings.HoldJobsOpen = false;
        await StoreCallbackAsync(job, "completed");
        await processor.ApplyPendingAsync(CancellationToken.None);
        Assert.Equal(readsBefore + 3, sandbox.Precept.Counters.JobStatusCalls);
        Assert.Equal(Outcome.Found, (await RecordAsync(request)).Outcome);
        Assert.Equal(ProviderJobState.Completed, Assert.Single(await host.JobsAsync()).State);
    }

    [Fact]
    public async Task ACallbackReadWhileItsSubmitsAnswerIsRecordedIsAppliedByARoundThatStartsAtOnce()
    {
        var request = await SubmitAsync();
        await WaitForSandboxJobAsync("completed");
        var id = Assert.Single(await host.JobsAsync()).ExternalId!;
        // The callback came before the submit's answer was recorded: the processor reads the job without its id.
        await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderJobs
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.ExternalId, (string?)null)));
        var job = Assert.Single(await host.JobsAsync());
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.ProviderCallbacks.Add(new ProviderCallbackRecord
            {
                ProviderJobId = job.Id, ReceivedAt = host.Time.GetUtcNow(), Body = $$"""{"enrichment_id":"{{id}}","status":"completed","results":[]}""",
            });
            return await db.SaveChangesAsync();
        });
        // ... and the answer is recorded while the processor reads the job back from Precept.
        beforeJobRead = () => host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderJobs
            .ExecuteUpdateAsync(set => set.SetProperty(j => j.ExternalId, id)));
        var signal = host.Services.GetRequiredService<CallbackSignal>();
        await signal.WaitAsync(TimeSpan.FromMilliseconds(1), TimeProvider.System, CancellationToken.None); // no pulse left over
        var processor = host.Services.GetRequiredService<CallbackProcessor>();

        Assert.Equal(0, await processor.ApplyPendingAsync(CancellationToken.None));
        beforeJobRead = null;
        // The next round is due at once, not at the poll: nothing else would wake the loop for this job's last callback.
        await signal.WaitAsync(TimeSpan.FromHours(1), host.Time, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, await processor.ApplyPendingAsync(CancellationToken.None));
        Assert.Equal(Outcome.Found, (await RecordAsync(request)).Outcome);
        Assert.Equal(id, Assert.Single(await host.JobsAsync()).ExternalId);
    }

    Task<int> StoreCallbackAsync(ProviderJobRecord job, string status) =>
        host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.ProviderCallbacks.Add(new ProviderCallbackRecord
            {
                ProviderJobId = job.Id, ReceivedAt = host.Time.GetUtcNow(),
                Body = $$"""{"enrichment_id":"{{job.ExternalId}}","status":"{{status}}","results":[]}""",
            });
            return await db.SaveChangesAsync();
        });

    Task<List<ProviderCallbackRecord>> CallbacksAsync() =>
        host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderCallbacks.AsNoTracking().ToListAsync());

    [Fact]
    public async Task RequestStillOpenAtTheDeadlineTimesOut()
    {
        sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromDays(3);
        var request = await SubmitAsync();

        host.Time.Advance(options.Deadline);
        await SweepAsync();

        Assert.Equal(Outcome.TimedOut, (await RecordAsync(request)).Outcome);
    }

    async Task<EnrichmentRequested> SubmitAsync(string lastName = "Doe")
    {
        var request = await ReceiveAsync(LedgerTestHost.ValidRequest(lastName: lastName));
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        return request;
    }

    async Task<EnrichmentRequested> ReceiveAsync(EnrichmentRequested request)
    {
        await host.ReceiveAsync(request);
        return request;
    }

    async Task WaitForSandboxJobsAsync(int count, string status)
    {
        for (var i = 0; i < 100 && !(sandbox.Precept.Jobs.Count == count && sandbox.Precept.Jobs.All(j => j.Status == status)); i++)
        {
            host.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
            await Task.Delay(10);
        }
        Assert.All(sandbox.Precept.Jobs, j => Assert.Equal(status, j.Status));
        Assert.Equal(count, sandbox.Precept.Jobs.Count);
    }

    static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(10);
        }
    }

    async Task WaitForSandboxJobAsync(string status)
    {
        for (var i = 0; i < 100 && sandbox.Precept.Jobs.FirstOrDefault()?.Status != status; i++)
        {
            host.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
            await Task.Delay(10);
        }
        Assert.Equal(status, sandbox.Precept.Jobs.Single().Status);
    }

    /// <summary>One sweep (the engine's poll with Precept's reader); how many requests it completed.</summary>
    async Task<int> SweepAsync()
    {
        var before = (await host.RequestsAsync()).Count(r => r.State == RequestState.Completed);
        await host.InScopeAsync(async sp =>
        {
            await host.Services.GetRequiredService<JobPolls>().PollAsync(sp.GetRequiredService<IJobReader>(), CancellationToken.None);
            return 0;
        });
        return (await host.RequestsAsync()).Count(r => r.State == RequestState.Completed) - before;
    }

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);

    /// <summary>Lets submits through, or, once held, keeps each waiting until released (what a busy concurrency limit does).</summary>
    sealed class SubmitHold
    {
        TaskCompletionSource? held;
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Hold() => held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => held?.TrySetResult();

        public async Task WaitAsync(CancellationToken ct)
        {
            if (held is not { } wait)
                return;
            Reached.TrySetResult();
            await wait.Task.WaitAsync(ct);
        }
    }

    /// <summary>Runs before a read of one job reaches Precept, when a test sets it.</summary>
    Func<Task>? beforeJobRead;

    sealed class JobReadHook(PreceptSweepTests test) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.Contains("/v1/jobs/") && test.beforeJobRead is { } before)
                await before();
            return await base.SendAsync(request, ct);
        }
    }

    sealed class HoldingHandler(SubmitHold hold) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (request.Method == HttpMethod.Post)
                await hold.WaitAsync(ct);
            return await base.SendAsync(request, ct);
        }
    }

}
