using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Requests.Selections;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Lance;
using EnrichmentRelay.Tests.Providers.Lance;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Requests;

/// <summary>Lance selections against the sandbox on loopback: the intake, the job engine's polls, and the summary.</summary>
public sealed class SelectionsTests : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly LanceOptions options = new() { ApiKey = "k", FlushWindow = TimeSpan.Zero };

    LanceSimulator Lance => sandbox.Lance;

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddLance(options);
            services.AddScoped<IValidator<SelectionEnrichmentRequested>, SelectionEnrichmentRequestedValidator>();
            services.AddScoped<SelectionIntake>();
            services.AddScoped<SelectionSummaries>();
            services.AddScoped<IJobEndedHandler>(sp => sp.GetRequiredService<SelectionSummaries>());
        }, scriptedProvider: false);
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { LanceApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = sandbox.BaseAddress;
        Lance.Settings.ProcessingDelay = TimeSpan.FromSeconds(30);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    [Fact]
    public async Task SelectionIsSummarisedByThePollThatEndsItsJob()
    {
        var people = Enumerable.Range(0, 4).Select(i => $"00000000-0000-4000-8000-{i:D12}").ToList();
        people.ForEach(p => Lance.AddPerson(p, "Vic", "Vp"));
        Lance.SetOutcome(people[1], "emails", LanceOutcome.NotFound);
        var selection = Selection(targetCount: 3);

        await ReceiveAsync(selection);
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(RequestState.Submitted, r.State));
        Assert.Empty(await SummariesAsync());

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var summary = Assert.Single(await SummariesAsync());
        Assert.Equal(3, summary.Selected);
        Assert.Equal(new Dictionary<string, int> { ["found"] = 2, ["notFound"] = 1 }, summary.Outcomes);
        Assert.Equal(people.Take(3).Select(p => SelectionEnrichmentRequested.RequestIdFor(selection.SelectionId, p)).Order(), summary.RequestIds.Order());
        Assert.Equal(ProviderJobState.Completed, Assert.Single(await host.JobsAsync()).State);
        // Each person's attempt on the selection's job ended with its request.
        var attempts = await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Attempts.AsNoTracking().ToListAsync());
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, a => Assert.NotNull(a.Outcome));

        await PollAsync();
        Assert.Single(await SummariesAsync());
    }

    [Fact]
    public async Task SelectionWhosePersonsLanceHadFinishedIsSummarisedAtIntake()
    {
        var people = Enumerable.Range(0, 2).Select(i => $"00000000-0000-4000-8000-{i:D12}").ToList();
        people.ForEach(p => Lance.AddPerson(p, "Vic", "Vp"));
        await ReceiveAsync(Selection(targetCount: 2));
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        // The same persons again: Lance hands back their finished records, free, and nothing is left for a poll.
        var again = Selection(targetCount: 2);
        await ReceiveAsync(again);

        var summary = Assert.Single(await SummariesAsync(), s => s.SelectionId == again.SelectionId);
        Assert.Equal(new Dictionary<string, int> { ["found"] = 2 }, summary.Outcomes);
        var persons = (await host.RequestsAsync()).Where(r => summary.RequestIds.Contains(r.RequestId)).ToList();
        Assert.All(persons, r => Assert.Equal(0m, r.CreditsCharged));
        Assert.All(Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ASecondDeliveryWaitsWhileTheFirstHoldsTheSelectionAndTakesOverOnlyOnceItsClaimIsStale()
    {
        var people = Enumerable.Range(0, 2).Select(i => $"00000000-0000-4000-8000-{i:D12}").ToList();
        people.ForEach(p => Lance.AddPerson(p, "Vic", "Vp"));
        var selection = Selection(targetCount: 2);
        // As the first delivery leaves it while its paid call is under way: the intent stored and claimed, no answer yet.
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.Selections.Add(new SelectionRecord
            {
                SelectionId = selection.SelectionId, State = SelectionState.Accepted, RequestJson = "{}",
                AcceptedAt = host.Time.GetUtcNow(), ClaimedAt = host.Time.GetUtcNow(),
            });
            return await db.SaveChangesAsync();
        });

        // A second delivery within the window calls nobody: it is retried later.
        await Assert.ThrowsAsync<SelectionInProgressException>(() => ReceiveAsync(selection));
        Assert.Equal(0, Lance.Counters.BulkCalls);
        Assert.Empty(await host.RequestsAsync());

        // The first was cut off: once its claim is older than a submit can last, the next delivery takes over.
        host.Time.Advance(SubmitCalls.OrphanWindow(options.RequestTimeout));
        await ReceiveAsync(selection);
        Assert.Equal(1, Lance.Counters.BulkCalls);
        Assert.Equal(2, (await host.RequestsAsync()).Count);
        var row = await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Selections.AsNoTracking().SingleAsync());
        Assert.Equal(SelectionState.Submitted, row.State);
    }

    [Fact]
    public async Task ASelectionWhoseSummaryWasMissedWhenItsJobEndedIsFinishedByTheSweep()
    {
        // As an instance cut off between ending the job and staging the summary leaves it: every person completed,
        // the job ended, the selection still Submitted, and no Lance request left open for a poll to work on.
        var person = Guid.NewGuid().ToString();
        await host.ReceiveAsync(new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(), Lead = new Lead { LancePersonId = person }, Fields = [EnrichmentField.Email],
        });
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(LanceTasks.Lane, CancellationToken.None);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();
        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal(ProviderJobState.Completed, job.State);
        var selectionId = Guid.NewGuid();
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.Selections.Add(new SelectionRecord
            {
                SelectionId = selectionId, State = SelectionState.Submitted, ProviderJobId = job.Id, Selected = 1,
                RequestJson = $$"""{"selectionId":"{{selectionId}}","targetCount":1,"field":"email"}""", AcceptedAt = host.Time.GetUtcNow(),
            });
            return await db.SaveChangesAsync();
        });

        await PollAsync();
        Assert.Empty(await SummariesAsync()); // nothing of Lance's is open: the poll has no job to end
        Assert.Equal(1, await SweepAsync());
        Assert.Equal(0, await SweepAsync());

        var summary = Assert.Single(await SummariesAsync());
        Assert.Equal(selectionId, summary.SelectionId);
        Assert.Equal(1, summary.Selected);
    }

    Task ReceiveAsync(SelectionEnrichmentRequested selection) => host.InScopeAsync(async sp =>
    {
        await sp.GetRequiredService<SelectionIntake>().ReceiveAsync(selection, CancellationToken.None);
        return 0;
    });

    Task PollAsync() => host.InScopeAsync(async sp =>
    {
        await sp.GetRequiredService<JobPolls>().PollAsync(sp.GetRequiredService<IJobReader>(), CancellationToken.None);
        return 0;
    });

    Task<int> SweepAsync() => host.InScopeAsync(sp => sp.GetRequiredService<SelectionSummaries>().FinishEndedAsync(CancellationToken.None));

    async Task<List<SelectionEnrichmentCompleted>> SummariesAsync() =>
        (await host.OutboxAsync()).Where(m => m.MessageType == nameof(SelectionEnrichmentCompleted))
            .Select(m => JsonSerializer.Deserialize<SelectionEnrichmentCompleted>(m.Body, Serialization.RelayJson.Options)!).ToList();

    static SelectionEnrichmentRequested Selection(int targetCount) =>
        new() { SelectionId = Guid.NewGuid(), TargetCount = targetCount, Field = EnrichmentField.Email };
}
