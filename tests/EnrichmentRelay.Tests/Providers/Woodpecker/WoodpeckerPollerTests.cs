using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Woodpecker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests.Providers.Woodpecker;

/// <summary>
/// The poller against the Woodpecker sandbox on loopback, both on one fake clock, so days can pass in a test. Where the
/// vendor pages leave a behaviour open, the test runs with the sandbox's convenient reading and with the least
/// convenient one the pages allow (<see cref="WoodpeckerSettings.UseDocumentedOnly"/>).
/// </summary>
public sealed class WoodpeckerPollerTests : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly WoodpeckerOptions options = new()
    {
        ApiKey = "k",
        FlushWindow = TimeSpan.Zero,
        PollInterval = TimeSpan.FromSeconds(30),
        Deadline = TimeSpan.FromHours(48),
        ProspectMatchTimeout = TimeSpan.FromHours(1),
    };

    WoodpeckerSimulator Woodpecker => sandbox.Woodpecker;

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, time) =>
        {
            services.AddSingleton(Options.Create(options));
            services.AddHttpClient<WoodpeckerClient>(http =>
            {
                http.BaseAddress = options.BaseUrl;
                http.DefaultRequestHeaders.Add("x-api-key", options.ApiKey);
            });
            services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
            services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
            services.AddScoped<WoodpeckerPoller>();
        });
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { WoodpeckerApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = new Uri(sandbox.BaseAddress, "rest/");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    void Arrange(bool documentedOnly)
    {
        if (documentedOnly)
            Woodpecker.Settings.UseDocumentedOnly();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BatchOlderThanTheListsDefaultWindowIsStillFound(bool documentedOnly)
    {
        Arrange(documentedOnly);
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromHours(30);
        var request = Single(await SubmitAsync(LeadRequest("uid-old", "Bachman")));

        host.Time.Advance(TimeSpan.FromHours(31));
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.Found, completed.Outcome);
        Assert.Equal("erlich.bachman@bachmanity.com", Assert.Single(LedgerViews.ReadList(completed.EmailsJson)));
        Assert.Equal(1.5m, completed.CreditsCharged);
    }

    [Fact]
    public async Task ConvertedLeadWhoseProspectIsNotVisibleYetIsTriedAgainNextTick()
    {
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(10);
        Woodpecker.Settings.ProspectVisibilityDelay = TimeSpan.FromMinutes(2);
        var request = Single(await SubmitAsync(LeadRequest("uid-late", "Bachman")));

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);

        host.Time.Advance(TimeSpan.FromMinutes(3));
        await PollAsync();
        Assert.Equal(Outcome.Found, (await RecordAsync(request)).Outcome);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConvertedLeadWhoseProspectIsNeverMatchedFailsWithTheCreditsItCost(bool documentedOnly)
    {
        Arrange(documentedOnly);
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(10);
        Woodpecker.Settings.ProspectVisibilityDelay = TimeSpan.FromDays(30);
        var request = Single(await SubmitAsync(LeadRequest("uid-hidden", "Hidden")));

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);

        host.Time.Advance(options.ProspectMatchTimeout);
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.Failed, completed.Outcome);
        Assert.Equal(1.5m, completed.CreditsCharged);
        Assert.Contains("could not be matched", completed.Detail);
        Assert.Empty(LedgerViews.ReadList(completed.EmailsJson));
        Assert.Equal(1.5m, Woodpecker.Counters.CreditsCharged);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AConvertedProspectIsFoundWhetherOrNotTheListHonoursTheSort(bool honoursSort)
    {
        // More older prospects than one page holds: in id order, the new one is not on the first page.
        for (var i = 0; i < 1200; i++)
            Woodpecker.AddProspect($"old{i}@elsewhere.com", "Old", $"P{i}", "Elsewhere", "elsewhere.com", $"https://www.linkedin.com/in/old-{i}");
        Woodpecker.Settings.ProspectListHonoursSort = honoursSort;
        host.Time.Advance(TimeSpan.FromHours(1));
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(10);
        var request = Single(await SubmitAsync(LeadRequest("uid-sorted", "Sorted")));

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.Found, completed.Outcome);
        Assert.Equal("erlich.sorted@bachmanity.com", Assert.Single(LedgerViews.ReadList(completed.EmailsJson)));
        // Honoured: one page of recent prospects served; ignored: that page did not, a search by name and company did.
        Assert.Equal(honoursSort ? 1 : 2, Woodpecker.Counters.ProspectSearchCalls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LeadsLeftOutOfAPartialBatchForCreditsAreShortOfCreditsNotRejected(bool creditsExhaustedWithPartialBatch)
    {
        Woodpecker.Settings.CreditsExhaustedWithPartialBatch = creditsExhaustedWithPartialBatch;
        Woodpecker.Settings.Credits = 1.5m; // one lead's worth
        var requests = await SubmitAsync(LeadRequest("uid-p1", "One"), LeadRequest("uid-p2", "Two"), LeadRequest("uid-p3", "Three"));
        Assert.Equal(creditsExhaustedWithPartialBatch ? "CREDITS_EXHAUSTED" : "PARTIALLY_ENQUEUED", Assert.Single(await host.JobsAsync()).SubmitAnswer);

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();

        var outcomes = await Task.WhenAll(requests.Select(RecordAsync));
        Assert.Equal(Outcome.Found, outcomes[0].Outcome);
        Assert.All(outcomes[1..], r =>
        {
            Assert.Equal(Outcome.InsufficientCredits, r.Outcome);
            Assert.Equal(0m, r.CreditsCharged);
            Assert.Contains(creditsExhaustedWithPartialBatch ? "CREDITS_EXHAUSTED" : "does not say which", r.Detail);
        });
    }

    [Fact]
    public async Task NoCreditsAtAllRefusesTheSubmitAsShortOfCredits()
    {
        Woodpecker.Settings.Credits = 0;
        var request = Single(await SubmitAsync(LeadRequest("uid-broke", "Broke")));

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.InsufficientCredits, completed.Outcome);
        Assert.Equal(ProviderJobState.Refused, Assert.Single(await host.JobsAsync()).State);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NotEnqueuedLeadsFollowTheBatchesThatAlreadyHoldThem(bool documentedOnly)
    {
        Arrange(documentedOnly);
        // Item i of a batch is processed after 16 h × (1 + i % 4) / 4: lead A at 4 h, lead B 4 h after its own batch.
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromHours(16);
        // Someone else (the app, another integration) queued lead A three hours before the relay's submit: older than any
        // adopt window. The relay itself queued lead B for an earlier request.
        Assert.Equal(200, Woodpecker.SubmitLeads(JsonNode.Parse($$"""{"leads":[{{Payload("uid-a", "Alpha")}}]}""")).Status);
        host.Time.Advance(TimeSpan.FromHours(2));
        var earlier = Single(await SubmitAsync(LeadRequest("uid-b", "Beta")));
        host.Time.Advance(TimeSpan.FromHours(1));

        var later = await SubmitAsync(LeadRequest("uid-a", "Alpha"), LeadRequest("uid-b", "Beta"));
        var job = (await host.JobsAsync()).OrderBy(j => j.CreatedAt).Last();
        Assert.Equal("NOT_ENQUEUED", job.SubmitAnswer);
        Assert.Equal(ProviderJobState.Submitted, job.State);

        await PollAsync();
        Assert.All(await Task.WhenAll(later.Select(RecordAsync)), r =>
        {
            Assert.Equal(RequestState.Submitted, r.State);
            Assert.Contains("\"batch\"", r.ProviderState);
        });

        host.Time.Advance(TimeSpan.FromHours(4));
        await PollAsync();

        var theirs = await RecordAsync(later[0]);
        Assert.Equal(Outcome.Found, theirs.Outcome);
        Assert.Equal("erlich.alpha@bachmanity.com", Assert.Single(LedgerViews.ReadList(theirs.EmailsJson)));
        Assert.Equal(1.5m, theirs.CreditsCharged); // charged for a batch no request of this relay records
        Assert.Contains("NOT_ENQUEUED", theirs.Detail);

        var first = await RecordAsync(earlier);
        var repeat = await RecordAsync(later[1]);
        Assert.Equal(Outcome.Found, first.Outcome);
        Assert.Equal(1.5m, first.CreditsCharged);
        Assert.Equal(Outcome.Found, repeat.Outcome);
        Assert.Equal(LedgerViews.ReadList(first.EmailsJson), LedgerViews.ReadList(repeat.EmailsJson));
        Assert.Equal(0m, repeat.CreditsCharged); // its charge is the earlier request's
        Assert.Equal(1, Woodpecker.Counters.LeadSubmissions["uid-b"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ALeadLeftOutOfItsBatchBecauseItIsPendingFollowsThatBatch(bool alreadyPendingLeavesBatchEnqueued)
    {
        Woodpecker.Settings.AlreadyPendingLeavesBatchEnqueued = alreadyPendingLeavesBatchEnqueued;
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMinutes(2);
        var earlier = Single(await SubmitAsync(LeadRequest("uid-pending", "Pending")));
        var later = await SubmitAsync(LeadRequest("uid-pending", "Pending"), LeadRequest("uid-new", "New"));
        Assert.Equal(alreadyPendingLeavesBatchEnqueued ? "ENQUEUED" : "PARTIALLY_ENQUEUED",
            (await host.JobsAsync()).OrderBy(j => j.CreatedAt).Last().SubmitAnswer);

        host.Time.Advance(TimeSpan.FromMinutes(3));
        await PollAsync();

        var repeat = await RecordAsync(later[0]);
        Assert.Equal(Outcome.Found, repeat.Outcome); // not short of credits: another batch held it
        Assert.Equal(0m, repeat.CreditsCharged);
        Assert.Equal(Outcome.Found, (await RecordAsync(earlier)).Outcome);
        Assert.Equal(Outcome.Found, (await RecordAsync(later[1])).Outcome);
        Assert.Equal(1.5m, (await RecordAsync(later[1])).CreditsCharged);
    }

    [Fact]
    public async Task NotEnqueuedLeadsNoBatchHoldsFailAfterTheReconcileTimeAndAreNeverSentAgain()
    {
        Woodpecker.ForceNextSubmit("NOT_ENQUEUED", 0);
        var request = Single(await SubmitAsync(LeadRequest("uid-ghost", "Ghost")));

        await PollAsync();
        host.Time.Advance(options.ReconcileAfter / 2);
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);

        host.Time.Advance(options.ReconcileAfter);
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.Failed, completed.Outcome);
        Assert.Contains("NOT_ENQUEUED", completed.Detail);
        Assert.Contains("no batch created in the 2 days before the submit holds it", completed.Detail);
        Assert.Equal(1, Woodpecker.Counters.LeadSubmitCalls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ALeadProcessedWithAnUnknownResultFails(bool documentedOnly)
    {
        Arrange(documentedOnly);
        Woodpecker.SetLeadOutcome("uid-odd", LeadConversion.Unrecognized);
        Woodpecker.SetLeadOutcome("uid-none", LeadConversion.NotConverted);
        var requests = await SubmitAsync(LeadRequest("uid-odd", "Odd"), LeadRequest("uid-none", "None"));

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();

        var odd = await RecordAsync(requests[0]);
        Assert.Equal(Outcome.Failed, odd.Outcome);
        Assert.Null(odd.CreditsCharged);
        Assert.Contains(WoodpeckerSimulator.UnrecognizedResult, odd.Detail);
        var none = await RecordAsync(requests[1]);
        Assert.Equal(Outcome.NotFound, none.Outcome);
        Assert.Equal(0m, none.CreditsCharged);
    }

    [Fact]
    public async Task ARequestAlsoForPhoneIsToldPhoneWasNotLookedUp()
    {
        var request = Single(await SubmitAsync(LeadRequest("uid-phone", "Phone") with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] }));

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.Found, completed.Outcome);
        Assert.Empty(LedgerViews.ReadList(completed.PhonesJson));
        Assert.Equal(WoodpeckerLeads.PhoneNotLookedUp, completed.Detail);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ProspectEnrichmentReportsWhatTheProspectRecordHolds(bool documentedOnly)
    {
        Arrange(documentedOnly);
        Woodpecker.AddProspect("Pat.Enriched@Acme.com", "Pat", "Enriched", "Acme", "acme.com");
        Woodpecker.AddProspect("pat.plain@acme.com", "Pat", "Plain", "Acme", "acme.com");
        Woodpecker.SetProspectEnrichment("pat.plain@acme.com", false);
        var requests = await SubmitAsync(WoodpeckerLeads.ProspectsLane,
            ProspectRequest("pat.enriched@acme.com"), ProspectRequest("pat.plain@acme.com"), ProspectRequest("nobody@acme.com"));

        await PollAsync();
        Assert.All(await Task.WhenAll(requests.Select(RecordAsync)), r => Assert.Equal(RequestState.Submitted, r.State)); // still pending

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();

        var enriched = await RecordAsync(requests[0]);
        Assert.Equal(Outcome.Found, enriched.Outcome);
        // The record's own spelling: read from Woodpecker, not the caller's input echoed back.
        Assert.Equal("Pat.Enriched@Acme.com", Assert.Single(LedgerViews.ReadList(enriched.EmailsJson)));
        Assert.Equal(1.5m, enriched.CreditsCharged);
        Assert.Contains("prospect record holds", enriched.Detail);
        Assert.Equal(Outcome.NotFound, (await RecordAsync(requests[1])).Outcome);
        // Not one of the account's prospects: PROCESSED_NOT_ENRICHED, or a status the pages do not name.
        var nobody = await RecordAsync(requests[2]);
        Assert.Equal(documentedOnly ? Outcome.Failed : Outcome.NotFound, nobody.Outcome);
        if (documentedOnly)
            Assert.Contains("PROCESSED_PROSPECT_NOT_FOUND", nobody.Detail);
    }

    [Fact]
    public async Task AProspectAlreadyPendingIsFollowedToTheBatchThatHoldsIt()
    {
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMinutes(4);
        Woodpecker.AddProspect("pat.twice@acme.com", "Pat", "Twice", "Acme", "acme.com");
        var earlier = Single(await SubmitAsync(WoodpeckerLeads.ProspectsLane, ProspectRequest("pat.twice@acme.com")));
        var repeat = Single(await SubmitAsync(WoodpeckerLeads.ProspectsLane, ProspectRequest("pat.twice@acme.com")));
        Assert.Equal("NOT_ENQUEUED", (await host.JobsAsync()).OrderBy(j => j.CreatedAt).Last().SubmitAnswer);

        host.Time.Advance(TimeSpan.FromMinutes(5));
        await PollAsync();

        var first = await RecordAsync(earlier);
        var second = await RecordAsync(repeat);
        Assert.Equal(Outcome.Found, first.Outcome);
        Assert.Equal(1.5m, first.CreditsCharged);
        Assert.Equal(Outcome.Found, second.Outcome);
        Assert.Equal(0m, second.CreditsCharged);
        Assert.Contains("NOT_ENQUEUED", second.Detail);
        Assert.Equal(1, Woodpecker.Counters.ProspectSubmissions["pat.twice@acme.com"]);
    }

    [Fact]
    public async Task AnEnrichedProspectWhoseRecordCannotBeReadIsNotReportedFound()
    {
        Woodpecker.AddProspect("pat.gone@acme.com", "Pat", "Gone", "Acme", "acme.com");
        var request = Single(await SubmitAsync(WoodpeckerLeads.ProspectsLane, ProspectRequest("pat.gone@acme.com")));
        host.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("PROCESSED_ENRICHED", Assert.Single(Assert.Single(Woodpecker.Batches).Items).Status);
        Assert.True(Woodpecker.RemoveProspect("pat.gone@acme.com"));

        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await RecordAsync(request)).State);
        host.Time.Advance(options.ProspectMatchTimeout);
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.Failed, completed.Outcome);
        Assert.Empty(LedgerViews.ReadList(completed.EmailsJson));
        Assert.Equal(1.5m, completed.CreditsCharged);
        Assert.Contains("could not be read", completed.Detail);
    }

    [Fact]
    public async Task OpenRequestTimesOutAtTheDeadline()
    {
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromDays(5);
        var request = Single(await SubmitAsync(LeadRequest("uid-slow", "Slow")));

        host.Time.Advance(options.Deadline + TimeSpan.FromMinutes(1));
        await PollAsync();

        var completed = await RecordAsync(request);
        Assert.Equal(Outcome.TimedOut, completed.Outcome);
        Assert.Equal(1, Woodpecker.Counters.LeadSubmitCalls);
    }

    [Fact]
    public void OlderBatchesArePolledLessOftenButNeverSlowerThanTheCap()
    {
        var poller = host.Services.CreateScope().ServiceProvider.GetRequiredService<WoodpeckerPoller>();

        var young = poller.PollGap(TimeSpan.FromMinutes(1));
        var hourOld = poller.PollGap(TimeSpan.FromHours(2));
        var dayOld = poller.PollGap(TimeSpan.FromDays(1));

        Assert.True(young <= options.PollInterval);
        Assert.True(hourOld > young);
        Assert.True(dayOld >= hourOld);
        Assert.True(dayOld <= options.MaxPollInterval);
    }

    [Theory]
    [InlineData("2026-11-23T00:30:00Z", "2026-11-21")]
    [InlineData("2026-11-23T23:59:00Z", "2026-11-21")]
    [InlineData("2026-11-23T01:00:00+05:00", "2026-11-20")]
    public void TheListReachesBackTwoDaysSoAnyReadingOfCreatedAfterCoversTheBatch(string since, string createdAfter) =>
        Assert.Equal(DateOnly.Parse(createdAfter), WoodpeckerPoller.CreatedAfter(DateTimeOffset.Parse(since)));

    static string Payload(string uid, string last) =>
        $$"""{"uid":"{{uid}}","full_name":"Erlich {{last}}","first_name":"Erlich","last_name":"{{last}}","linkedin_url":"linkedin.com/in/erlich-{{last.ToLowerInvariant()}}-404xyz","company_name":"Bachmanity","company_website":"bachmanity.com","gender":null,"job_title_levels":["Cxo"]}""";

    static EnrichmentRequested LeadRequest(string uid, string last) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { WoodpeckerLead = JsonDocument.Parse(Payload(uid, last)).RootElement.Clone() },
        Fields = [EnrichmentField.Email],
    };

    static EnrichmentRequested ProspectRequest(string email) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { Email = email, FirstName = "Pat" },
        Fields = [EnrichmentField.Email],
        Providers = [ProviderName.Woodpecker],
    };

    static EnrichmentRequested Single(IReadOnlyList<EnrichmentRequested> requests) => Assert.Single(requests);

    Task<IReadOnlyList<EnrichmentRequested>> SubmitAsync(params EnrichmentRequested[] requests) => SubmitAsync(WoodpeckerLeads.LeadsLane, requests);

    /// <summary>Takes the requests in and submits them as one batch of <paramref name="lane"/>.</summary>
    async Task<IReadOnlyList<EnrichmentRequested>> SubmitAsync(string lane, params EnrichmentRequested[] requests)
    {
        foreach (var request in requests)
            Assert.Equal(EnrichmentRelay.Requests.IntakeResult.Accepted, await host.ReceiveAsync(request));
        var jobs = (await host.JobsAsync()).Count;
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(lane, CancellationToken.None);
        Assert.Equal(jobs + 1, (await host.JobsAsync()).Count);
        return requests;
    }

    Task PollAsync() => host.InScopeAsync(async sp =>
    {
        await sp.GetRequiredService<WoodpeckerPoller>().PollAsync(CancellationToken.None);
        return 0;
    });

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);
}
