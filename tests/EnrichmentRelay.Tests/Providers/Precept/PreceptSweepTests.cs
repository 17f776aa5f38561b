using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Webhooks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EnrichmentRelay.Tests.Providers.Precept;

/// <summary>The webhook's safety nets against the Precept sandbox on loopback, on one fake clock.</summary>
public sealed class PreceptSweepTests(ITestOutputHelper output) : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly PreceptOptions options = new() { ApiKey = "k", FlushWindow = TimeSpan.Zero, VerifyCallbacks = true };

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddSingleton(Options.Create(options));
            services.AddSingleton(Options.Create(new RelayOptions { PublicBaseUrl = "http://127.0.0.1:9/" }));
            services.AddSingleton<IServer, NoServer>();
            services.AddSingleton<PublicUrls>();
            services.AddHttpClient<PreceptClient>(http =>
            {
                http.BaseAddress = options.BaseUrl;
                http.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
            });
            services.AddScoped<IEnrichmentProvider, PreceptProvider>();
            services.AddScoped<PreceptSweep>();
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

    [Fact]
    public async Task RequestStillOpenAtTheDeadlineTimesOut()
    {
        sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromDays(3);
        var request = await SubmitAsync();

        host.Time.Advance(options.Deadline);
        await SweepAsync();

        Assert.Equal(Outcome.TimedOut, (await RecordAsync(request)).Outcome);
    }

    async Task<EnrichmentRequested> SubmitAsync()
    {
        var request = LedgerTestHost.ValidRequest();
        await host.ReceiveAsync(request);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        return request;
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

    Task<int> SweepAsync() => host.InScopeAsync(sp => sp.GetRequiredService<PreceptSweep>().SweepAsync(CancellationToken.None));

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);

    sealed class NoServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();
        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken ct) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
        public void Dispose() { }
    }
}
