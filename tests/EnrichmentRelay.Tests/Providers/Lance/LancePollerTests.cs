using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Lance;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EnrichmentRelay.Tests.Providers.Lance;

/// <summary>The Lance submit and poll against the sandbox on loopback, both on one fake clock.</summary>
public sealed class LancePollerTests(ITestOutputHelper output) : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly LanceOptions options = new() { ApiKey = "k", FlushWindow = TimeSpan.Zero, Deadline = TimeSpan.FromHours(24) };

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddSingleton(Options.Create(options));
            services.AddHttpClient<LanceClient>(http =>
            {
                http.BaseAddress = options.BaseUrl;
                http.DefaultRequestHeaders.Authorization = new("Bearer", options.ApiKey);
            });
            services.AddScoped<IEnrichmentProvider, LanceProvider>();
            services.AddScoped<LancePoller>();
        });
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { LanceApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = sandbox.BaseAddress;
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    [Fact]
    public async Task OnePollRoundOf2500RequestsQueriesAtMostTwoCallsPer200()
    {
        sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMinutes(1);
        var requests = Enumerable.Range(0, 2500).Select(_ => Request([EnrichmentField.Email, EnrichmentField.Phone])).ToList();
        foreach (var request in requests)
            await host.ReceiveAsync(request);
        var flusher = host.Services.GetRequiredService<BatchFlusher>();
        for (var batch = 0; batch < 3; batch++)
            await flusher.FlushAsync(LanceTasks.Lane, CancellationToken.None);

        host.Time.Advance(TimeSpan.FromMinutes(2));
        var before = sandbox.Lance.Counters.QueryCalls;
        await PollAsync();
        var round = sandbox.Lance.Counters.QueryCalls - before;

        var limit = 2 * (int)Math.Ceiling(2500 / 200.0);
        output.WriteLine($"[figure] Lance poll round for 2,500 requests (5,000 tasks): {round} query calls (limit {limit})");
        Assert.True(round <= limit, $"{round} query calls in one round");
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(Outcome.Found, r.Outcome));
        Assert.All(sandbox.Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ReusedFinishedRecordsCompleteAtSubmitWithoutAPoll()
    {
        var person = Guid.NewGuid().ToString();
        sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
        await SubmitAsync(Request([EnrichmentField.Email], person));
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var again = Request([EnrichmentField.Email], person);
        await SubmitAsync(again);

        var record = (await host.RequestsAsync()).Single(r => r.RequestId == again.RequestId);
        Assert.Equal(Outcome.Found, record.Outcome);
        Assert.Equal(1, sandbox.Lance.Counters.Charges[$"{person}:emails"]);
    }

    [Fact]
    public async Task TaskTheQueryNeverMentionsTimesOutAtTheRelaysDeadline()
    {
        var person = Guid.NewGuid().ToString();
        sandbox.Lance.SetOutcome(person, "emails", LanceOutcome.Omitted);
        var request = Request([EnrichmentField.Email], person);
        await SubmitAsync(request);

        host.Time.Advance(TimeSpan.FromHours(1));
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await host.RequestsAsync()).Single().State);

        host.Time.Advance(options.Deadline);
        await PollAsync();
        Assert.Equal(Outcome.TimedOut, (await host.RequestsAsync()).Single().Outcome);
    }

    [Fact]
    public async Task SubmitThatFailedWithoutAnAnswerIsSentAgainByThePollAndChargedOnce()
    {
        sandbox.Lance.FailNextSubmits(1, 503);
        sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
        var request = Request([EnrichmentField.Email]);
        await SubmitAsync(request);

        await PollAsync();                       // sends it again
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();                       // finds it finished

        Assert.Equal(Outcome.Found, (await host.RequestsAsync()).Single().Outcome);
        Assert.All(sandbox.Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ASelectionWhoseSummaryLostARaceIsStillFinishedByTheNextPoll()
    {
        // As two writers leave it when both finish the same selection: its persons all completed, the selection still
        // Submitted, and no Lance request left open for the poll to work on.
        var request = Request([EnrichmentField.Email]);
        await SubmitAsync(request);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();
        var jobId = (await host.RequestsAsync()).Single().ProviderJobId!.Value;
        var selectionId = Guid.NewGuid();
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.Selections.Add(new SelectionRecord
            {
                SelectionId = selectionId, State = SelectionState.Submitted, ProviderJobId = jobId, Selected = 1,
                RequestJson = $$"""{"selectionId":"{{selectionId}}","targetCount":1,"field":"email"}""", AcceptedAt = host.Time.GetUtcNow(),
            });
            return await db.SaveChangesAsync();
        });

        await PollAsync();

        var summary = Assert.Single(await host.OutboxAsync(), m => m.MessageType == nameof(SelectionEnrichmentCompleted));
        Assert.Contains(selectionId.ToString(), summary.Body);
    }

    async Task SubmitAsync(EnrichmentRequested request)
    {
        await host.ReceiveAsync(request);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(LanceTasks.Lane, CancellationToken.None);
    }

    Task PollAsync() => host.InScopeAsync(async sp =>
    {
        await sp.GetRequiredService<LancePoller>().PollAsync(CancellationToken.None);
        return 0;
    });

    static EnrichmentRequested Request(IReadOnlyList<EnrichmentField> fields, string? personId = null) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = personId ?? Guid.NewGuid().ToString() },
        Fields = fields,
    };
}
