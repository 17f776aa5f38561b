using EnrichmentRelay.Budgets;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Costs;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;

namespace EnrichmentRelay.Tests.Jobs;

/// <summary>The waterfall's rules (<see cref="Waterfall"/>) alone, then through intake, the flusher and the ledger.</summary>
public sealed class WaterfallTests
{
    static readonly Lead BothIds = new()
    {
        LancePersonId = "550e8400-e29b-41d4-a716-446655440001", FirstName = "Jane", LastName = "Doe", CompanyName = "Acme",
    };

    static EnrichmentRequested Request(Lead? lead = null, IReadOnlyList<ProviderName>? providers = null, params EnrichmentField[] fields) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = lead ?? BothIds,
        Fields = fields.Length == 0 ? [EnrichmentField.Email, EnrichmentField.Phone] : fields,
        Providers = providers,
    };

    static Waterfall Rules(bool moveOnFailure = false, List<ProviderName>? defaultOrder = null, params IEnrichmentProvider[] providers) =>
        new(providers.Length == 0 ? [new WaterfallProvider(ProviderName.Lance), new WaterfallProvider(ProviderName.Precept)] : providers,
            Options.Create(new WaterfallOptions
            {
                MoveOnFailure = moveOnFailure, DefaultOrder = (defaultOrder ?? []).Select(p => p.ToString().ToLowerInvariant()).ToList(),
            }));

    [Theory]
    [InlineData(Outcome.Found, false, true)]
    [InlineData(Outcome.NotFound, false, true)]
    [InlineData(Outcome.InsufficientCredits, false, true)]
    [InlineData(Outcome.Rejected, false, true)]
    [InlineData(Outcome.Failed, false, false)]
    [InlineData(Outcome.TimedOut, false, false)]
    [InlineData(Outcome.Failed, true, true)]
    [InlineData(Outcome.TimedOut, true, true)]
    public void EachOutcomeMovesOnOrEndsTheRequest(Outcome outcome, bool moveOnFailure, bool movesOn)
    {
        var rules = Rules(moveOnFailure);
        Assert.Equal(movesOn, rules.MovesOn(outcome));
        var next = rules.Next(Request(providers: [ProviderName.Lance, ProviderName.Precept]), ProviderName.Lance, outcome, [EnrichmentField.Phone]);
        Assert.Equal(movesOn ? ProviderName.Precept : null, next.Provider?.Name);
    }

    [Fact]
    public void NothingMissingEndsTheRequestWhateverTheOrderHolds()
    {
        var next = Rules().Next(Request(providers: [ProviderName.Lance, ProviderName.Precept]), ProviderName.Lance, Outcome.Found, []);
        Assert.Null(next.Provider);
    }

    [Fact]
    public void TheNextProviderIsAskedOnlyForTheFieldsStillMissing()
    {
        var found = new CompletionResult(Outcome.Found, Emails: ["jane@acme.com"]);
        Assert.Equal([EnrichmentField.Phone], Waterfall.Missing([EnrichmentField.Email, EnrichmentField.Phone], found));
        Assert.Empty(Waterfall.Missing([EnrichmentField.Email], found));
        Assert.Equal([EnrichmentField.Email, EnrichmentField.Phone],
            Waterfall.Missing([EnrichmentField.Email, EnrichmentField.Phone], new CompletionResult(Outcome.NotFound)));

        // The next provider is judged on the narrowed request: one that cannot look for a phone is passed over for it.
        var emailsOnly = new WaterfallProvider(ProviderName.Woodpecker, canServe: r => r.Fields!.Contains(EnrichmentField.Phone) ? "emails only." : null);
        var rules = Rules(false, null, new WaterfallProvider(ProviderName.Lance), emailsOnly, new WaterfallProvider(ProviderName.Precept));
        var order = Request(providers: [ProviderName.Lance, ProviderName.Woodpecker, ProviderName.Precept]);
        Assert.Equal(ProviderName.Woodpecker, rules.Next(order, ProviderName.Lance, Outcome.Found, [EnrichmentField.Email]).Provider!.Name);
        var forPhone = rules.Next(order, ProviderName.Lance, Outcome.Found, [EnrichmentField.Phone]);
        Assert.Equal(ProviderName.Precept, forPhone.Provider!.Name);
        Assert.Equal(new SkippedProvider { Provider = ProviderName.Woodpecker, Reason = "emails only." }, Assert.Single(forPhone.Skipped));
    }

    [Fact]
    public void ProvidersThatCannotIdentifyTheLeadOrAreNotEnabledAreSkippedWithTheReason()
    {
        var nameless = new Lead { LancePersonId = "550e8400-e29b-41d4-a716-446655440001" };
        var rules = Rules(false, null, new WaterfallProvider(ProviderName.Lance), new WaterfallProvider(ProviderName.Precept));
        var request = Request(nameless, [ProviderName.Woodpecker, ProviderName.Lance, ProviderName.Precept]);

        var first = rules.First(request);
        Assert.Equal(ProviderName.Lance, first.Provider!.Name);
        var skipped = Assert.Single(first.Skipped);
        Assert.Equal((ProviderName.Woodpecker, "not enabled in this relay."), (skipped.Provider, skipped.Reason));

        var next = rules.Next(request, ProviderName.Lance, Outcome.NotFound, [EnrichmentField.Email]);
        Assert.Null(next.Provider);
        Assert.Equal((ProviderName.Precept, "needs a name."), (Assert.Single(next.Skipped).Provider, next.Skipped[0].Reason));
        Assert.Contains("Precept: needs a name.", rules.First(Request(nameless, [ProviderName.Precept])).WhyNot);
    }

    [Fact]
    public void WithoutAnOrderOneProviderIsChosenAndAConfiguredDefaultOrderIsAWaterfall()
    {
        var noOrder = Request();
        Assert.Null(Rules().OrderOf(noOrder));
        Assert.Equal(ProviderName.Lance, Rules().First(noOrder).Provider!.Name); // today's preference: the lead's Lance id
        Assert.Null(Rules().Next(noOrder, ProviderName.Lance, Outcome.NotFound, [EnrichmentField.Email]).Provider);

        var configured = Rules(false, [ProviderName.Precept, ProviderName.Lance]);
        Assert.Equal(ProviderName.Precept, configured.First(noOrder).Provider!.Name);
        Assert.Equal(ProviderName.Lance, configured.Next(noOrder, ProviderName.Precept, Outcome.NotFound, [EnrichmentField.Email]).Provider!.Name);
        // A request's own order wins over the default.
        Assert.Equal(ProviderName.Lance, configured.First(Request(providers: [ProviderName.Lance])).Provider!.Name);
    }

    [Fact]
    public void AMisspeltProviderInTheDefaultOrderIsAnInvalidSetting()
    {
        var check = new KnownProviders();
        Assert.True(check.Validate(null, new WaterfallOptions { DefaultOrder = ["lance", "Precept", " woodpecker "] }).Succeeded);
        var bad = check.Validate(null, new WaterfallOptions { DefaultOrder = ["lance", "acme", "1"] });
        Assert.True(bad.Failed);
        Assert.Contains("Waterfall:DefaultOrder names no provider 'acme', '1'", bad.FailureMessage);
        Assert.Equal([ProviderName.Lance, ProviderName.Precept], new WaterfallOptions { DefaultOrder = ["LANCE", "precept"] }.Order);
    }

    [Fact]
    public void TheResultMergesEveryAttemptOneAttemptKeepsItsOwn()
    {
        var alone = new CompletionResult(Outcome.Failed, Detail: "boom", CreditsCharged: 1);
        Assert.Same(alone, Waterfall.Merge([Ended(1, ProviderName.Lance, Outcome.Failed)], alone));

        var notFound = Ended(1, ProviderName.Lance, Outcome.NotFound, credits: 0);
        var noCredits = Ended(2, ProviderName.Precept, Outcome.InsufficientCredits, detail: "402");
        var none = Waterfall.Merge([notFound, noCredits], new CompletionResult(Outcome.InsufficientCredits, Detail: "402"));
        Assert.Equal(Outcome.NotFound, none.Outcome); // a provider looked and found nothing
        Assert.Contains("Lance: NotFound.", none.Detail);
        Assert.Contains("Precept: InsufficientCredits (402).", none.Detail);
        Assert.Equal(0m, none.CreditsCharged);

        var email = Ended(1, ProviderName.Lance, Outcome.Found, emails: ["jane@acme.com"], credits: 2);
        var phone = Ended(2, ProviderName.Precept, Outcome.Found, phones: ["+15550100"]);
        var both = Waterfall.Merge([email, phone], new CompletionResult(Outcome.Found, Phones: ["+15550100"]));
        Assert.Equal((Outcome.Found, 2m), (both.Outcome, both.CreditsCharged));
        Assert.Equal(["jane@acme.com"], both.Emails);
        Assert.Equal(["+15550100"], both.Phones);

        var lastFailed = Waterfall.Merge([email, Ended(2, ProviderName.Precept, Outcome.Failed)], new CompletionResult(Outcome.Failed, Detail: "boom"));
        Assert.Equal((Outcome.Found, (string?)null), (lastFailed.Outcome, lastFailed.Detail)); // found when any field was found
    }

    static RequestAttemptRecord Ended(int number, ProviderName provider, Outcome outcome, string[]? emails = null, string[]? phones = null,
        decimal? credits = null, string? detail = null) => new()
    {
        Number = number, Provider = provider, Lane = provider.ToString(), Outcome = outcome, CompletedAt = DateTimeOffset.UnixEpoch,
        EmailsJson = JsonSerializer.Serialize(emails ?? []), PhonesJson = JsonSerializer.Serialize(phones ?? []),
        CreditsCharged = credits, Detail = detail,
    };

    // Through the ledger: intake, the flusher, results applied per attempt.

    sealed class Ledger : IAsyncDisposable
    {
        public readonly WaterfallProvider Lance = new(ProviderName.Lance);
        public readonly WaterfallProvider Precept = new(ProviderName.Precept);
        public readonly LedgerTestHost Host;

        public Ledger(bool moveOnFailure = false, decimal? preceptCeiling = null) =>
            Host = new LedgerTestHost((services, _) =>
            {
                services.AddSingleton<IEnrichmentProvider>(Lance);
                services.AddSingleton<IEnrichmentProvider>(Precept);
                services.AddSingleton(Options.Create(new WaterfallOptions { MoveOnFailure = moveOnFailure }));
                services.AddSingleton(Options.Create(new PreceptBudgetOptions { PerRequestCeiling = preceptCeiling }));
                services.AddScoped<CostReports>();
            }, scriptedProvider: false);

        public async Task FlushAsync(WaterfallProvider provider)
        {
            Host.Time.Advance(provider.FlushWindow);
            await Host.Services.GetRequiredService<BatchFlusher>().FlushAsync(provider.Lane, CancellationToken.None);
        }

        public async Task<EnrichmentCompleted> CompletionAsync(Guid requestId)
        {
            var row = Assert.Single(await Host.OutboxAsync(), m => m.MessageId == EnrichmentCompleted.EventIdFor(requestId));
            return JsonSerializer.Deserialize<EnrichmentCompleted>(row.Body, RelayJson.Options)!;
        }

        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    [Fact]
    public async Task AFieldTheFirstProviderDidNotFindIsAskedOfTheNextAloneAndOneCompletionSaysWhoFoundWhat()
    {
        await using var ledger = new Ledger();
        var partly = Request(providers: [ProviderName.Lance, ProviderName.Precept]);
        var wholly = Request(providers: [ProviderName.Lance, ProviderName.Precept]);
        await ledger.Host.ReceiveAsync(partly);
        await ledger.Host.ReceiveAsync(wholly);
        ledger.Lance.Answer = lead => lead.RequestId == partly.RequestId
            ? new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1)
            : new LeadResult(Outcome.Found, Emails: ["jo@acme.com"], Phones: ["+15550199"], CreditsCharged: 2);
        ledger.Precept.Answer = _ => new LeadResult(Outcome.Found, Phones: ["+15550100"]);

        await ledger.FlushAsync(ledger.Lance);
        var moved = Assert.Single(await ledger.Host.RequestsAsync(), r => r.State == RequestState.Accepted);
        Assert.Equal((partly.RequestId, ProviderName.Precept), (moved.RequestId, moved.Provider!.Value));
        await ledger.FlushAsync(ledger.Precept);

        // Precept got only the lead still missing a field, and was asked only for that field.
        var lead = Assert.Single(Assert.Single(ledger.Precept.Calls));
        Assert.Equal(partly.RequestId, lead.RequestId);
        Assert.Equal([EnrichmentField.Phone], lead.Request.Fields);

        var completed = await ledger.CompletionAsync(partly.RequestId);
        Assert.Equal((Outcome.Found, ProviderName.Precept, 1m), (completed.Outcome, completed.Provider!.Value, completed.CreditsCharged!.Value));
        Assert.Equal(["jane@acme.com"], completed.Emails);
        Assert.Equal(["+15550100"], completed.Phones);
        Assert.Equal([
            new FoundContact { Field = EnrichmentField.Email, Value = "jane@acme.com", Provider = ProviderName.Lance },
            new FoundContact { Field = EnrichmentField.Phone, Value = "+15550100", Provider = ProviderName.Precept },
        ], completed.Contacts);
        Assert.Equal([ProviderName.Lance, ProviderName.Precept], completed.Attempts.Select(a => a.Provider));
        Assert.Equal([
            new FieldOutcome { Field = EnrichmentField.Email, Outcome = Outcome.Found },
            new FieldOutcome { Field = EnrichmentField.Phone, Outcome = Outcome.NotFound },
        ], completed.Attempts[0].Fields);
        Assert.Equal(1m, completed.Attempts[0].CreditsCharged);
        Assert.Equal([new FieldOutcome { Field = EnrichmentField.Phone, Outcome = Outcome.Found }], completed.Attempts[1].Fields);
        Assert.Empty(completed.Skipped);

        var whole = await ledger.CompletionAsync(wholly.RequestId);
        Assert.Equal([ProviderName.Lance], whole.Attempts.Select(a => a.Provider));
        Assert.All(whole.Contacts, c => Assert.Equal(ProviderName.Lance, c.Provider));
        Assert.Equal(2, (await ledger.Host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task EachProviderIsCountedForWhatItsOwnAttemptAskedFoundAndCost()
    {
        await using var ledger = new Ledger();
        var meters = ledger.Host.Services.GetRequiredService<IMeterFactory>();
        using var requested = new MetricCollector<long>(meters, RelayMetrics.MeterName, "relay.fields.requested");
        using var found = new MetricCollector<long>(meters, RelayMetrics.MeterName, "relay.contacts.found");
        using var credits = new MetricCollector<double>(meters, RelayMetrics.MeterName, "relay.credits.charged");
        await ledger.Host.ReceiveAsync(Request(providers: [ProviderName.Lance, ProviderName.Precept]));
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        ledger.Precept.Answer = _ => new LeadResult(Outcome.Found, Phones: ["+15550100"], CreditsCharged: 10);
        await ledger.FlushAsync(ledger.Lance);
        await ledger.FlushAsync(ledger.Precept);

        long Count(MetricCollector<long> collector, string provider, string field) => collector.GetMeasurementSnapshot()
            .Where(m => Equals(m.Tags["provider"], provider) && Equals(m.Tags["field"], field)).Sum(m => m.Value);
        Assert.Equal((1, 1, 1, 0), (Count(requested, "lance", "email"), Count(requested, "lance", "phone"), Count(found, "lance", "email"), Count(found, "lance", "phone")));
        Assert.Equal((0, 1, 1), (Count(requested, "precept", "email"), Count(requested, "precept", "phone"), Count(found, "precept", "phone")));
        double Credits(string provider) => credits.GetMeasurementSnapshot().Where(m => Equals(m.Tags["provider"], provider)).Sum(m => m.Value);
        Assert.Equal((1d, 10d), (Credits("lance"), Credits("precept")));

        var report = await ledger.Host.InScopeAsync(sp => sp.GetRequiredService<CostReports>().ForWindowAsync("1h", CancellationToken.None));
        var lance = report.Providers.Single(p => p.Provider == "lance");
        var precept = report.Providers.Single(p => p.Provider == "precept");
        Assert.Equal((1, 1, 1m), (lance.Requests, lance.ContactsFound, lance.Credits));
        Assert.Equal((0, 0), (lance.Fields.Single(f => f.Field == "phone").Found, precept.Fields.Single(f => f.Field == "email").Requests));
        Assert.Equal((1, 1, 10m), (precept.Requests, precept.ContactsFound, precept.Credits));
    }

    [Fact]
    public async Task ALateOrRepeatedResultOfAnEarlierAttemptChangesNothing()
    {
        await using var ledger = new Ledger();
        var request = Request(providers: [ProviderName.Lance, ProviderName.Precept]);
        await ledger.Host.ReceiveAsync(request);
        ledger.Lance.Answer = _ => new LeadResult(Outcome.NotFound);
        ledger.Precept.Answer = null; // Precept's result comes later (a callback)
        await ledger.FlushAsync(ledger.Lance);
        await ledger.FlushAsync(ledger.Precept);

        async Task<bool> ApplyAsync(ProviderName provider, LeadResult result) => await ledger.Host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            var results = sp.GetRequiredService<JobResults>();
            var job = await db.ProviderJobs.SingleAsync(j => j.Provider == provider);
            var work = await results.OpenAsync(job, CancellationToken.None);
            var applied = results.Complete(work, request.RequestId, result);
            await sp.GetRequiredService<RequestCompletion>().SaveAsync(CancellationToken.None);
            return applied;
        });

        // Lance's result again, after the request went on: its attempt has ended.
        Assert.False(await ApplyAsync(ProviderName.Lance, new LeadResult(Outcome.Found, Emails: ["late@acme.com"])));
        Assert.Equal(RequestState.Submitted, Assert.Single(await ledger.Host.RequestsAsync()).State);
        Assert.Empty(await ledger.Host.OutboxAsync());

        Assert.True(await ApplyAsync(ProviderName.Precept, new LeadResult(Outcome.Found, Emails: ["jane@acme.com"])));
        Assert.False(await ApplyAsync(ProviderName.Precept, new LeadResult(Outcome.Found, Emails: ["jane@acme.com"])));
        Assert.False(await ApplyAsync(ProviderName.Lance, new LeadResult(Outcome.Found, Emails: ["late@acme.com"])));

        var completed = await ledger.CompletionAsync(request.RequestId);
        Assert.Single(await ledger.Host.OutboxAsync());
        Assert.Equal(["jane@acme.com"], completed.Emails);
        Assert.Equal([Outcome.NotFound, Outcome.Found], completed.Attempts.Select(a => a.Outcome!.Value));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AFailureEndsTheRequestWithItsReasonUnlessTheSettingMovesItOn(bool moveOnFailure)
    {
        await using var ledger = new Ledger(moveOnFailure);
        var request = Request(providers: [ProviderName.Lance, ProviderName.Precept]);
        await ledger.Host.ReceiveAsync(request);
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Failed, Detail: "Lance task failed: Provider error");
        ledger.Precept.Answer = _ => new LeadResult(Outcome.NotFound);
        await ledger.FlushAsync(ledger.Lance);
        await ledger.FlushAsync(ledger.Precept);

        var completed = await ledger.CompletionAsync(request.RequestId);
        if (moveOnFailure)
        {
            Assert.Equal([ProviderName.Lance, ProviderName.Precept], completed.Attempts.Select(a => a.Provider));
            Assert.Equal(Outcome.NotFound, completed.Outcome);
        }
        else
        {
            Assert.Empty(ledger.Precept.Calls);
            Assert.Equal((Outcome.Failed, "Lance task failed: Provider error"), (completed.Outcome, completed.Detail));
            Assert.Equal([ProviderName.Lance], completed.Attempts.Select(a => a.Provider));
        }
    }

    [Fact]
    public async Task TheCompletionSaysWhyAProviderOfTheOrderWasSkipped()
    {
        await using var ledger = new Ledger();
        // No name: Precept cannot identify this lead; Woodpecker is not enabled here.
        var request = Request(new Lead { LancePersonId = "550e8400-e29b-41d4-a716-446655440001" },
            [ProviderName.Woodpecker, ProviderName.Lance, ProviderName.Precept], EnrichmentField.Email);
        await ledger.Host.ReceiveAsync(request);
        ledger.Lance.Answer = _ => new LeadResult(Outcome.InsufficientCredits, Detail: "402");
        await ledger.FlushAsync(ledger.Lance);

        var completed = await ledger.CompletionAsync(request.RequestId);
        Assert.Equal((Outcome.InsufficientCredits, "402"), (completed.Outcome, completed.Detail));
        Assert.Equal([
            new SkippedProvider { Provider = ProviderName.Woodpecker, Reason = "not enabled in this relay." },
            new SkippedProvider { Provider = ProviderName.Precept, Reason = "needs a name." },
        ], completed.Skipped);
        Assert.Empty(ledger.Precept.Calls);
    }

    [Fact]
    public async Task AProviderWhoseBudgetRefusesARequestPassesItOnAndTheLastRefusalKeepsWhatEarlierProvidersFound()
    {
        // Precept's ceiling is below the price of any lead: its budget refuses every request without a call.
        await using var ledger = new Ledger(preceptCeiling: 0.5m);
        var lanceFirst = Request(providers: [ProviderName.Lance, ProviderName.Precept]);
        var preceptFirst = Request(providers: [ProviderName.Precept, ProviderName.Lance]);
        await ledger.Host.ReceiveAsync(lanceFirst);
        await ledger.Host.ReceiveAsync(preceptFirst);
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);

        await ledger.FlushAsync(ledger.Lance);     // lanceFirst: the email found, on to Precept for the phone
        await ledger.FlushAsync(ledger.Precept);   // both refused by Precept's budget: lanceFirst ends, preceptFirst goes to Lance
        await ledger.FlushAsync(ledger.Lance);

        Assert.Empty(ledger.Precept.Calls);
        var budgetSkip = new SkippedProvider { Provider = ProviderName.Precept, Reason = "InsufficientCredits: budget." };
        var ended = await ledger.CompletionAsync(lanceFirst.RequestId);
        Assert.Equal((Outcome.Found, 1m), (ended.Outcome, ended.CreditsCharged!.Value)); // Lance's email is not lost to the refusal
        Assert.Equal(["jane@acme.com"], ended.Emails);
        Assert.Equal([ProviderName.Lance], ended.Attempts.Select(a => a.Provider));
        Assert.Equal([budgetSkip], ended.Skipped);

        var passedOn = await ledger.CompletionAsync(preceptFirst.RequestId);
        Assert.Equal((Outcome.Found, ProviderName.Lance), (passedOn.Outcome, passedOn.Provider!.Value));
        Assert.Equal([ProviderName.Lance], passedOn.Attempts.Select(a => a.Provider));
        Assert.Equal([budgetSkip], passedOn.Skipped);
    }

    [Fact]
    public async Task RequestsThatMoveOnFromSeveralJobsWaitToFillOneBatchOfTheNextProvider()
    {
        await using var ledger = new Ledger();
        ledger.Precept.MaxBatchSize = 4;
        ledger.Precept.FlushWindow = TimeSpan.FromSeconds(10);
        ledger.Precept.Answer = _ => new LeadResult(Outcome.NotFound);
        var flusher = ledger.Host.Services.GetRequiredService<BatchFlusher>();
        var time = ledger.Host.Time;
        var acceptedAt = time.GetUtcNow();
        var first = new[] { Request(providers: [ProviderName.Lance, ProviderName.Precept]), Request(providers: [ProviderName.Lance, ProviderName.Precept]) };
        foreach (var request in first)
            await ledger.Host.ReceiveAsync(request);

        // Lance's first job finds nothing: both go on to Precept, long after they were accepted (Lance's window, 2 s,
        // then Precept's, 10 s, pass). Counted from acceptance they would be overdue there and go at once, two in a batch of four.
        time.Advance(TimeSpan.FromSeconds(12));
        await flusher.FlushAsync(ledger.Lance.Lane, CancellationToken.None);
        var movedAt = time.GetUtcNow();
        var wait = await flusher.FlushAsync(ledger.Precept.Lane, CancellationToken.None);
        Assert.Empty(ledger.Precept.Calls);
        Assert.Equal(ledger.Precept.FlushWindow, wait); // their window starts again when they move on
        Assert.All((await ledger.Host.RequestsAsync()).Where(r => r.Provider == ProviderName.Precept),
            r => Assert.Equal((acceptedAt, movedAt), (r.AcceptedAt, r.QueuedAt!.Value)));

        // A second Lance job, a little later, moves two more: Precept's batch is full, and goes as one call.
        var second = new[] { Request(providers: [ProviderName.Lance, ProviderName.Precept]), Request(providers: [ProviderName.Lance, ProviderName.Precept]) };
        foreach (var request in second)
            await ledger.Host.ReceiveAsync(request);
        time.Advance(ledger.Lance.FlushWindow);
        await flusher.FlushAsync(ledger.Lance.Lane, CancellationToken.None);
        await flusher.FlushAsync(ledger.Precept.Lane, CancellationToken.None);
        Assert.Equal(2, ledger.Lance.Calls.Count);
        var batch = Assert.Single(ledger.Precept.Calls);
        Assert.Equal(first.Concat(second).Select(r => r.RequestId).Order(), batch.Select(l => l.RequestId).Order());

        // The completion still says when the producer asked; the Precept attempt when it was sent.
        var completed = await ledger.CompletionAsync(first[0].RequestId);
        Assert.Equal(acceptedAt, completed.RequestedAt);
        Assert.Equal(acceptedAt + TimeSpan.FromSeconds(12), completed.Attempts[0].SubmittedAt);
        Assert.Equal(time.GetUtcNow(), completed.Attempts[1].SubmittedAt);

        // One that moves on alone is not held for ever: it goes once its own window has passed.
        var alone = Request(providers: [ProviderName.Lance, ProviderName.Precept]);
        await ledger.Host.ReceiveAsync(alone);
        time.Advance(ledger.Lance.FlushWindow);
        await flusher.FlushAsync(ledger.Lance.Lane, CancellationToken.None);
        time.Advance(ledger.Precept.FlushWindow - TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), await flusher.FlushAsync(ledger.Precept.Lane, CancellationToken.None));
        Assert.Single(ledger.Precept.Calls);
        time.Advance(TimeSpan.FromSeconds(1));
        await flusher.FlushAsync(ledger.Precept.Lane, CancellationToken.None);
        Assert.Equal(alone.RequestId, Assert.Single(ledger.Precept.Calls[1]).RequestId);
    }
}

/// <summary>A provider for waterfall tests: its name and lane, what it can identify, and each lead's result at submit (null: later).</summary>
sealed class WaterfallProvider(ProviderName name, Func<EnrichmentRequested, string?>? canServe = null) : IEnrichmentProvider
{
    public ProviderName Name => name;
    public string Lane => name.ToString().ToLowerInvariant();
    public int MaxBatchSize { get; set; } = 100;
    public TimeSpan FlushWindow { get; set; } = TimeSpan.FromSeconds(2);
    public Func<PendingLead, LeadResult>? Answer { get; set; } = _ => new LeadResult(Outcome.NotFound);
    public List<IReadOnlyList<PendingLead>> Calls { get; } = [];

    public string? WhyCannotServe(EnrichmentRequested request) =>
        canServe is not null ? canServe(request)
        : name == ProviderName.Lance ? (request.Lead?.LancePersonId is null ? "needs a person id." : null)
        : request.Lead?.LastName is null ? "needs a name." : null;

    public Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct)
    {
        Calls.Add(call.Leads);
        var completed = Answer is null ? null : call.Leads.ToDictionary(l => l.RequestId, l => Answer(l));
        return Task.FromResult(new SubmitResult(SubmitStatus.Accepted, $"{Lane}-job-{Calls.Count}", Completed: completed));
    }
}
