using EnrichmentRelay.Budgets;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Budgets;

/// <summary>
/// Budgets on the flusher's real path (SQLite ledger, fake time, the scripted Precept provider): what a submit reserves,
/// how a batch is cut, the ceiling, settlement from what the provider reported, both WhenExhausted modes and the UTC day.
/// A request asks for an email: at Precept's prices its worst case is 1 (the lead) + 1 (the email) = 2 credits.
/// </summary>
public sealed class ProviderBudgetsTests : IAsyncDisposable
{
    const decimal EmailWorstCase = 2m;
    LedgerTestHost host = null!;

    BatchFlusher Flusher => host.Services.GetRequiredService<BatchFlusher>();

    void Start(decimal? dailyCap = null, decimal? ceiling = null, WhenBudgetExhausted whenExhausted = WhenBudgetExhausted.Wait,
        bool keepWorstCase = false) =>
        host = new LedgerTestHost((services, _) =>
        {
            services.AddSingleton(Options.Create(new BudgetsOptions { WhenExhausted = whenExhausted }));
            services.AddSingleton(Options.Create(new PreceptBudgetOptions
                { DailyCap = dailyCap, PerRequestCeiling = ceiling, KeepWorstCaseWhenUnreported = keepWorstCase }));
        });

    public async ValueTask DisposeAsync() => await host.DisposeAsync();

    async Task<List<Guid>> ReceiveAsync(int count, IReadOnlyList<EnrichmentField>? fields = null)
    {
        List<Guid> ids = [];
        for (var i = 0; i < count; i++)
        {
            var request = LedgerTestHost.ValidRequest(lastName: $"Doe{Guid.NewGuid():N}") with { Fields = fields ?? [EnrichmentField.Email] };
            await host.ReceiveAsync(request);
            ids.Add(request.RequestId);
            host.Time.Advance(TimeSpan.FromMilliseconds(1)); // distinct acceptance times: the line's order is known
        }
        return ids;
    }

    async Task<TimeSpan> FlushDueAsync()
    {
        host.Time.Advance(host.Provider.FlushWindow);
        return await Flusher.FlushAsync("precept", CancellationToken.None);
    }

    Task<BudgetStatus> PreceptTodayAsync() =>
        host.InScopeAsync(async sp => (await sp.GetRequiredService<ProviderBudgets>().StatusAsync(CancellationToken.None)).Single(b => b.Provider == ProviderName.Precept));

    Task<List<BudgetDayRecord>> DaysAsync() =>
        host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().BudgetDays.AsNoTracking().OrderBy(d => d.Day).ToListAsync());

    /// <summary>Ends every lead of the open job as the provider would report it, then runs a settlement round.</summary>
    async Task EndJobAsync(Func<Guid, LeadResult> result, decimal? jobCredits = null)
    {
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            var job = await db.ProviderJobs.SingleAsync(j => j.State == ProviderJobState.Submitted);
            var results = sp.GetRequiredService<JobResults>();
            var work = await results.OpenAsync(job, CancellationToken.None);
            await results.ApplyAsync(work, new JobReading(job.Id)
            {
                Completed = work.Requests.Keys.ToDictionary(id => id, result),
                JobCredits = jobCredits,
            }, CancellationToken.None);
            await sp.GetRequiredService<RequestCompletion>().SaveAsync(CancellationToken.None);
            return 0;
        });
        await host.Services.GetRequiredService<BudgetSettlement>().RunOnceAsync(CancellationToken.None);
    }

    [Fact]
    public void TheWorstCaseOfARequestFollowsEachProvidersPriceTable()
    {
        host = new LedgerTestHost();
        Assert.Equal(2m, new PreceptBudgetOptions().WorstCase([EnrichmentField.Email]));
        Assert.Equal(11m, new PreceptBudgetOptions().WorstCase([EnrichmentField.Phone]));
        Assert.Equal(12m, new PreceptBudgetOptions().WorstCase(null));
        Assert.Equal(1.5m, new WoodpeckerBudgetOptions().WorstCase([EnrichmentField.Email]));
        Assert.Equal(2m, new LanceBudgetOptions().WorstCase([EnrichmentField.Email, EnrichmentField.Phone]));
        Assert.Equal(3.5m, new PreceptBudgetOptions { PricePerLead = 0.5m, PricePerEmail = 3m }.WorstCase([EnrichmentField.Email]));
    }

    [Fact]
    public async Task ABatchIsCutToWhatTheCapAllowsAndTheRestWaitsForTheNextUtcDay()
    {
        Start(dailyCap: 5);
        var ids = await ReceiveAsync(4);

        await FlushDueAsync();

        // 2 x 2 credits fit in 5; a third would make 6.
        var call = Assert.Single(host.Provider.Calls);
        Assert.Equal(ids[..2], call.Select(l => l.RequestId));
        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal((2 * EmailWorstCase, true), (job.CreditsReserved, job.ReservationOpen));
        var today = await PreceptTodayAsync();
        Assert.Equal((2 * EmailWorstCase, 0m, 1m), (today.Reserved, today.Charged, today.Remaining));

        // Nothing more fits today: the rest wait, looked at again after the settle interval.
        var wait = await FlushDueAsync();
        Assert.Single(host.Provider.Calls);
        Assert.Equal(new BudgetsOptions().SettleInterval, wait);
        Assert.Equal(2, (await host.RequestsAsync()).Count(r => r.State == RequestState.Accepted));

        // A minute before midnight UTC the wait ends at midnight; after it, the new day's budget takes them.
        host.Time.SetUtcNow(new DateTimeOffset(2026, 11, 23, 23, 59, 59, TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromSeconds(1), await Flusher.FlushAsync("precept", CancellationToken.None));
        host.Time.Advance(TimeSpan.FromSeconds(1));
        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Equal(ids[2..], host.Provider.Calls[1].Select(l => l.RequestId));
        var days = await DaysAsync();
        Assert.Equal([new DateOnly(2026, 11, 23), new DateOnly(2026, 11, 24)], days.Select(d => d.Day));
        Assert.All(days, d => Assert.Equal(2 * EmailWorstCase, d.Reserved));
    }

    [Fact]
    public async Task SettlementReplacesTheReservationByWhatTheProviderChargedAndFreesTheRest()
    {
        Start(dailyCap: 6);
        await ReceiveAsync(3);
        await FlushDueAsync();
        Assert.Equal(3 * EmailWorstCase, (await PreceptTodayAsync()).Reserved);

        // Two found (1 credit each reported per lead), one not found (0).
        var found = 0;
        await EndJobAsync(_ => found++ < 2 ? new LeadResult(Outcome.Found, ["a@acme.com"], CreditsCharged: 1m) : new LeadResult(Outcome.NotFound, CreditsCharged: 0m));

        var today = await PreceptTodayAsync();
        Assert.Equal((0m, 2m, 4m), (today.Reserved, today.Charged, today.Remaining));
        Assert.False(Assert.Single(await host.JobsAsync()).ReservationOpen);
        // Settled once: another round changes nothing.
        await host.Services.GetRequiredService<BudgetSettlement>().RunOnceAsync(CancellationToken.None);
        Assert.Equal(2m, (await PreceptTodayAsync()).Charged);

        // The room the settlement gave back takes two more (4 credits), not three.
        await ReceiveAsync(3);
        await FlushDueAsync();
        Assert.Equal(2, host.Provider.Calls[1].Count);
    }

    [Fact]
    public async Task AJobCostReportedPerJobSettlesTheJob()
    {
        Start(dailyCap: 100);
        await ReceiveAsync(3);
        await FlushDueAsync();

        await EndJobAsync(_ => new LeadResult(Outcome.Found, ["a@acme.com"]), jobCredits: 4.5m);

        var today = await PreceptTodayAsync();
        Assert.Equal((0m, 4.5m), (today.Reserved, today.Charged));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AJobCostReportedAfterTheJobWasSettledIsChargedOnceToTheDayItReservedOn(bool keepWorstCase)
    {
        Start(dailyCap: 100, keepWorstCase: keepWorstCase);
        await ReceiveAsync(3);
        await FlushDueAsync();
        var reservedOn = (await PreceptTodayAsync()).Day;

        // Every lead answered, the job's cost not yet reported: settled at nothing, or at its worst case.
        await EndJobAsync(_ => new LeadResult(Outcome.Found, ["a@acme.com"]));
        var settledAt = keepWorstCase ? 3 * EmailWorstCase : 0m;
        Assert.Equal((0m, settledAt), ((await PreceptTodayAsync()).Reserved, (await PreceptTodayAsync()).Charged));

        // Precept's cost comes the next UTC day (a later status read or callback), then again (repeats are common).
        host.Time.Advance(TimeSpan.FromDays(1));
        await ReportJobCostAsync(4.5m);
        await host.Services.GetRequiredService<BudgetSettlement>().RunOnceAsync(CancellationToken.None);
        await ReportJobCostAsync(4.5m);
        await host.Services.GetRequiredService<BudgetSettlement>().RunOnceAsync(CancellationToken.None);
        await host.Services.GetRequiredService<BudgetSettlement>().RunOnceAsync(CancellationToken.None);

        var days = await DaysAsync();
        var day = Assert.Single(days); // nothing was reserved or charged today
        Assert.Equal((reservedOn, 0m, 4.5m), (day.Day, day.Reserved, day.Charged));
        var job = Assert.Single(await host.JobsAsync());
        Assert.Equal((4.5m, 4.5m), (job.CreditsCharged!.Value, job.CreditsSettled!.Value));
        Assert.Equal(0m, (await PreceptTodayAsync()).Charged);
    }

    [Fact]
    public async Task ACostReportedBeforeTheSettlementRoundIsSettledOnceNotCorrectedAgain()
    {
        Start(dailyCap: 100);
        await ReceiveAsync(2);
        await FlushDueAsync();
        await EndJobAsync(_ => new LeadResult(Outcome.Found, ["a@acme.com"]), jobCredits: 3m);
        await ReportJobCostAsync(3m);
        await host.Services.GetRequiredService<BudgetSettlement>().RunOnceAsync(CancellationToken.None);

        var today = await PreceptTodayAsync();
        Assert.Equal((0m, 3m), (today.Reserved, today.Charged));
        Assert.Equal(3m, Assert.Single(await host.JobsAsync()).CreditsSettled);
    }

    /// <summary>A report of the (ended) job's whole cost, as a late status read or callback brings it.</summary>
    Task ReportJobCostAsync(decimal credits) => host.InScopeAsync(async sp =>
    {
        var db = sp.GetRequiredService<RelayDbContext>();
        var job = await db.ProviderJobs.SingleAsync();
        var results = sp.GetRequiredService<JobResults>();
        var work = await results.OpenAsync(job, CancellationToken.None);
        await results.ApplyAsync(work, new JobReading(job.Id) { JobCredits = credits }, CancellationToken.None);
        await sp.GetRequiredService<RequestCompletion>().SaveAsync(CancellationToken.None);
        return 0;
    });

    [Fact]
    public async Task AJobThatEndsWithNoChargeReportedReleasesItsReservation()
    {
        Start(dailyCap: 100);
        await ReceiveAsync(2);
        await FlushDueAsync();

        await EndJobAsync(_ => new LeadResult(Outcome.TimedOut, Detail: "no answer"));

        var today = await PreceptTodayAsync();
        Assert.Equal((0m, 0m), (today.Reserved, today.Charged));
    }

    [Fact]
    public async Task AProviderThatNeverReportsChargesKeepsTheWorstCaseAsCharged()
    {
        Start(dailyCap: 100, keepWorstCase: true);
        await ReceiveAsync(2);
        await FlushDueAsync();

        await EndJobAsync(_ => new LeadResult(Outcome.Found, ["a@acme.com"]));

        var today = await PreceptTodayAsync();
        Assert.Equal((0m, 2 * EmailWorstCase), (today.Reserved, today.Charged));
    }

    [Fact]
    public async Task ARefusedSubmitGivesItsReservationBackAtOnce()
    {
        Start(dailyCap: 4);
        await ReceiveAsync(2);
        host.Provider.Answer = leads => new SubmitResult(SubmitStatus.Refused, Detail: "Not enough credits",
            Completed: leads.ToDictionary(l => l.RequestId, _ => new LeadResult(Outcome.InsufficientCredits, Detail: "Not enough credits")));

        await FlushDueAsync();

        var today = await PreceptTodayAsync();
        Assert.Equal((0m, 0m, 4m), (today.Reserved, today.Charged, today.Remaining));
    }

    [Fact]
    public async Task ARequestOverThePerRequestCeilingCompletesInsufficientCreditsWithoutACall()
    {
        Start(ceiling: 5);
        var phone = await ReceiveAsync(1, [EnrichmentField.Email, EnrichmentField.Phone]); // 12 credits at worst
        var email = await ReceiveAsync(1);

        await FlushDueAsync();
        await Flusher.FlushAsync("precept", CancellationToken.None);

        Assert.Equal(email, Assert.Single(host.Provider.Calls).Select(l => l.RequestId));
        var refused = Assert.Single(await host.RequestsAsync(), r => r.RequestId == phone[0]);
        Assert.Equal((RequestState.Completed, Outcome.InsufficientCredits, ProviderBudgets.Detail, (Guid?)null),
            (refused.State, refused.Outcome, refused.Detail, refused.ProviderJobId));
        Assert.Contains(await host.OutboxAsync(), m => m.MessageId == EnrichmentCompleted.EventIdFor(phone[0]) && m.Body.Contains("\"budget\""));
        Assert.Equal(EmailWorstCase, (await PreceptTodayAsync()).Reserved);
    }

    [Fact]
    public async Task WhenExhaustedCompleteEndsWhatDoesNotFitOnceNoReservationCanGiveRoomBack()
    {
        Start(dailyCap: 4, whenExhausted: WhenBudgetExhausted.Complete);
        var ids = await ReceiveAsync(3);
        await FlushDueAsync();
        Assert.Equal(2, Assert.Single(host.Provider.Calls).Count);

        // The open job's 4 credits may settle lower: the third waits for that.
        await FlushDueAsync();
        Assert.Equal(RequestState.Accepted, (await host.RequestsAsync()).Single(r => r.RequestId == ids[2]).State);

        // Settled at its worst case: no room came back, so the third ends without a call.
        await EndJobAsync(_ => new LeadResult(Outcome.Found, ["a@acme.com"], CreditsCharged: EmailWorstCase));
        await FlushDueAsync();

        Assert.Single(host.Provider.Calls);
        var third = (await host.RequestsAsync()).Single(r => r.RequestId == ids[2]);
        Assert.Equal((RequestState.Completed, Outcome.InsufficientCredits, ProviderBudgets.Detail), (third.State, third.Outcome, third.Detail));
    }

    [Fact]
    public async Task WhenExhaustedWaitKeepsWhatDoesNotFitAcceptedPastTheSettlement()
    {
        Start(dailyCap: 4, whenExhausted: WhenBudgetExhausted.Wait);
        var ids = await ReceiveAsync(3);
        await FlushDueAsync();
        await EndJobAsync(_ => new LeadResult(Outcome.Found, ["a@acme.com"], CreditsCharged: EmailWorstCase));

        await FlushDueAsync();

        Assert.Single(host.Provider.Calls);
        Assert.Equal(RequestState.Accepted, (await host.RequestsAsync()).Single(r => r.RequestId == ids[2]).State);
        Assert.DoesNotContain(await host.OutboxAsync(), m => m.MessageId == EnrichmentCompleted.EventIdFor(ids[2]));
    }

    [Fact]
    public async Task AnOperatorsLimitsReplaceTheSettingsUntilCleared()
    {
        Start();
        await ReceiveAsync(3);
        await host.InScopeAsync(async sp =>
        {
            await sp.GetRequiredService<ProviderBudgets>().SetAsync(ProviderName.Precept, dailyCap: 2, perRequestCeiling: null, CancellationToken.None);
            return 0;
        });
        Assert.Equal(("admin", (decimal?)2m), ((await PreceptTodayAsync()).Source, (await PreceptTodayAsync()).DailyCap));

        await FlushDueAsync();
        Assert.Single(Assert.Single(host.Provider.Calls));

        await host.InScopeAsync(async sp =>
        {
            await sp.GetRequiredService<ProviderBudgets>().ClearAsync(ProviderName.Precept, CancellationToken.None);
            return 0;
        });
        Assert.Equal(("settings", (decimal?)null), ((await PreceptTodayAsync()).Source, (await PreceptTodayAsync()).DailyCap));
        await FlushDueAsync();
        Assert.Equal(2, host.Provider.Calls[1].Count);
    }

    [Fact]
    public async Task OfTwoReservationsForTheLastCreditsOnlyOneIsTaken()
    {
        Start(dailyCap: 3);
        var taken = await host.InScopeAsync(async sp =>
        {
            var budgets = sp.GetRequiredService<ProviderBudgets>();
            var db = sp.GetRequiredService<RelayDbContext>();
            List<bool> results = [];
            foreach (var credits in new[] { 2m, 2m, 1m })
            {
                await using var transaction = await db.Database.BeginTransactionAsync();
                var job = new ProviderJobRecord { Id = Guid.NewGuid(), Provider = ProviderName.Precept, Lane = "precept" };
                results.Add(await budgets.ReserveAsync(job, credits, CancellationToken.None));
                await transaction.CommitAsync();
            }
            return results;
        });

        Assert.Equal([true, false, true], taken);
        Assert.Equal((3m, 0m), ((await PreceptTodayAsync()).Reserved, (await PreceptTodayAsync()).Remaining));
    }
}
