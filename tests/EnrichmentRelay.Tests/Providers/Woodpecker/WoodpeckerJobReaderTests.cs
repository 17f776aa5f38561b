using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Woodpecker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Jobs;
using Xunit.Abstractions;

namespace EnrichmentRelay.Tests.Providers.Woodpecker;

/// <summary>
/// What Woodpecker's answers become: the reader against the Woodpecker sandbox on loopback, read directly with jobs built
/// here or through the engine's poll where the ledger is needed, both on one fake clock, so days can pass in a test. Where
/// the vendor pages leave a behaviour open, the test runs with the sandbox's convenient reading and with the least
/// convenient one the pages allow (<see cref="WoodpeckerSettings.UseDocumentedOnly"/>).
/// </summary>
public sealed class WoodpeckerJobReaderTests(ITestOutputHelper output) : IAsyncLifetime
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
            services.AddWoodpecker(options);
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
    public async Task AStatusQueryRefusedForOneJobLeavesEveryOtherJobOfThePollToComplete()
    {
        // A job still pending at its deadline: its last word needs no read.
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromDays(10);
        Woodpecker.AddProspect("pat.old@acme.com", "Pat", "Old", "Acme", "acme.com");
        var old = Single(await SubmitAsync(WoodpeckerLeads.ProspectsLane, ProspectRequest("pat.old@acme.com")));
        host.Time.Advance(options.Deadline);
        // Two young jobs, read in the same poll; Woodpecker refuses every status query that asks about the first one's prospect.
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(10);
        Woodpecker.AddProspect("pat.refused@acme.com", "Pat", "Refused", "Acme", "acme.com");
        Woodpecker.AddProspect("pat.fine@acme.com", "Pat", "Fine", "Acme", "acme.com");
        var refused = Single(await SubmitAsync(WoodpeckerLeads.ProspectsLane, ProspectRequest("pat.refused@acme.com")));
        var fine = Single(await SubmitAsync(WoodpeckerLeads.ProspectsLane, ProspectRequest("pat.fine@acme.com")));
        Woodpecker.FailStatusQueriesFor("pat.refused@acme.com", 400);
        host.Time.Advance(TimeSpan.FromSeconds(30));
        var queriesBefore = Woodpecker.Counters.StatusQueryCalls;

        await PollAsync();

        var queries = Woodpecker.Counters.StatusQueryCalls - queriesBefore;
        output.WriteLine($"[figure] Woodpecker poll with one prospect job's status query refused (400): {queries} status queries " +
                         "(both jobs in one, refused, then one per job); the other job completed and the deadline's job timed out");
        Assert.Equal(3, queries);
        Assert.Equal(Outcome.TimedOut, (await RecordAsync(old)).Outcome);
        var found = await RecordAsync(fine);
        Assert.Equal(Outcome.Found, found.Outcome);
        Assert.Equal("pat.fine@acme.com", Assert.Single(LedgerViews.ReadList(found.EmailsJson)));
        Assert.Equal(1.5m, found.CreditsCharged);
        var waiting = await RecordAsync(refused);
        Assert.Equal(RequestState.Submitted, waiting.State);
        var failing = (await host.JobsAsync()).Single(j => j.Id == waiting.ProviderJobId);
        Assert.Equal(ProviderJobState.Submitted, failing.State);
        Assert.Equal(1, failing.ReadFailures);
        Assert.Contains("Woodpecker answered 400", failing.LastError);
        Assert.True(failing.NextPollAt > host.Time.GetUtcNow());
        // Both refusals are kept: the query for both jobs linked to every job of the poll, the one for the failing job to it alone.
        var refusals = await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderAnswerLinks.AsNoTracking()
            .Where(l => l.Answer!.Status == 400).Select(l => new { l.AnswerId, l.JobId }).ToListAsync());
        var perAnswer = refusals.GroupBy(l => l.AnswerId).Select(g => g.Select(l => l.JobId).ToList()).ToList();
        Assert.Equal(2, perAnswer.Count);
        Assert.Contains(perAnswer, jobs => jobs.SequenceEqual([failing.Id]));
        Assert.Contains(perAnswer, jobs => jobs.Count == 3 && jobs.Contains(failing.Id));

        // Read again only once its back-off has passed; by then Woodpecker answers.
        Woodpecker.FailStatusQueriesFor("pat.refused@acme.com", 0);
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await RecordAsync(refused)).State);
        Assert.Equal(queriesBefore + queries, Woodpecker.Counters.StatusQueryCalls);
        host.Time.Advance(failing.NextPollAt!.Value - host.Time.GetUtcNow());
        await PollAsync();

        var recovered = await RecordAsync(refused);
        Assert.Equal(Outcome.Found, recovered.Outcome);
        Assert.Equal("pat.refused@acme.com", Assert.Single(LedgerViews.ReadList(recovered.EmailsJson)));
        var done = (await host.JobsAsync()).Single(j => j.Id == failing.Id);
        Assert.Equal(ProviderJobState.Completed, done.State);
        Assert.Equal(0, done.ReadFailures);
    }

    [Fact]
    public async Task ALostSubmitIsFoundAsTheBatchHoldingItsLeadsAndOneThatNoBatchHoldsIsNotFound()
    {
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromHours(1);
        Woodpecker.AddProspect("pat.lost@acme.com", "Pat", "Lost", "Acme", "acme.com");
        // These POSTs took effect at Woodpecker; their answers never reached the relay.
        Assert.Equal(200, Woodpecker.SubmitLeads(JsonNode.Parse($$"""{"leads":[{{Payload("uid-lost", "Lost")}}]}""")).Status);
        Assert.Equal(200, Woodpecker.SubmitProspects(JsonNode.Parse("""{"prospects":[{"email":"pat.lost@acme.com"}]}""")).Status);
        var batches = Woodpecker.Batches;
        var leadFound = Job(WoodpeckerLeads.LeadsLane, fateUnknown: true, LeadRequest("uid-lost", "Lost"));
        var leadNotFound = Job(WoodpeckerLeads.LeadsLane, fateUnknown: true, LeadRequest("uid-never", "Never"));
        var prospectFound = Job(WoodpeckerLeads.ProspectsLane, fateUnknown: true, ProspectRequest("pat.lost@acme.com"));
        var prospectNotFound = Job(WoodpeckerLeads.ProspectsLane, fateUnknown: true, ProspectRequest("pat.never@acme.com"));

        var readings = (await ReadAsync(leadFound, leadNotFound, prospectFound, prospectNotFound)).ToDictionary(r => r.JobId);

        Assert.Equal(batches.Single(b => b.Kind == WoodpeckerBatchKind.Lead).Uuid, readings[leadFound.Id].FoundAs);
        Assert.Equal(batches.Single(b => b.Kind == WoodpeckerBatchKind.Prospect).Uuid, readings[prospectFound.Id].FoundAs);
        Assert.All(new[] { leadFound, prospectFound }.Select(j => readings[j.Id]), r =>
        {
            Assert.False(r.NotFound);
            Assert.Null(r.Error);
            Assert.Empty(r.Completed); // still pending there
        });
        Assert.All(new[] { leadNotFound, prospectNotFound }.Select(j => readings[j.Id]), r =>
        {
            Assert.True(r.NotFound);
            Assert.Null(r.FoundAs);
            Assert.Null(r.Error);
            Assert.Empty(r.Completed);
        });
    }

    [Fact]
    public async Task AtTheDeadlineAProspectWoodpeckerChargedForFailsWithItsCreditsAndTheRestTimeOutWithoutAsking()
    {
        var now = host.Time.GetUtcNow();
        var charged = ProspectRequest("pat.charged@acme.com");
        var pending = ProspectRequest("pat.pending@acme.com");
        // Woodpecker was seen to have enriched (and charged for) the first one; its record was never read.
        var seen = new WoodpeckerRequestState(FoundAt: now - TimeSpan.FromHours(2)).ChangedFrom(null);
        var job = Job(WoodpeckerLeads.ProspectsLane, fateUnknown: false, pastDeadline: true,
            new OpenLead(charged.RequestId, charged, seen, now), new OpenLead(pending.RequestId, pending, null, now));

        var reading = Assert.Single(await ReadAsync(job));

        var failed = reading.Completed[charged.RequestId];
        Assert.Equal(Outcome.Failed, failed.Outcome);
        Assert.Equal(1.5m, failed.CreditsCharged);
        Assert.Contains("PROCESSED_ENRICHED", failed.Detail);
        var timedOut = reading.Completed[pending.RequestId];
        Assert.Equal(Outcome.TimedOut, timedOut.Outcome);
        Assert.Contains("Woodpecker had not finished this lead", timedOut.Detail);
        Assert.Equal(0, Woodpecker.Counters.StatusQueryCalls);
    }

    [Fact]
    public void OlderBatchesArePolledLessOftenButNeverSlowerThanTheCap()
    {
        using var scope = host.Services.CreateScope();
        var policy = scope.ServiceProvider.GetRequiredService<IJobReader>().Policy;

        var young = policy.NextReadIn(TimeSpan.FromMinutes(1));
        var hourOld = policy.NextReadIn(TimeSpan.FromHours(2));
        var dayOld = policy.NextReadIn(TimeSpan.FromDays(1));

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
        Assert.Equal(DateOnly.Parse(createdAfter), WoodpeckerJobReader.CreatedAfter(DateTimeOffset.Parse(since)));

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

    /// <summary>One poll of the engine with Woodpecker's reader: what a tick does.</summary>
    Task PollAsync() => host.InScopeAsync(async sp =>
    {
        await host.Services.GetRequiredService<JobPolls>().PollAsync(sp.GetRequiredService<IJobReader>(), CancellationToken.None);
        return 0;
    });

    /// <summary>The reader alone, on jobs the test built: what it makes of Woodpecker's answers.</summary>
    Task<IReadOnlyList<JobReading>> ReadAsync(params OpenJob[] jobs) =>
        host.InScopeAsync(sp => sp.GetRequiredService<IJobReader>().ReadAsync(jobs, CancellationToken.None));

    OpenJob Job(string lane, bool fateUnknown, params EnrichmentRequested[] requests) => Job(lane, fateUnknown, false,
        requests.Select(r => new OpenLead(r.RequestId, r, null, host.Time.GetUtcNow())).ToArray());

    OpenJob Job(string lane, bool fateUnknown, bool pastDeadline, params OpenLead[] leads)
    {
        var now = host.Time.GetUtcNow();
        return new OpenJob(Guid.NewGuid(), $"job-{Guid.NewGuid():N}", lane, ExternalId: null, SubmitAnswer: null, CreatedAt: now, SentAt: now,
            SubmittedAt: fateUnknown ? null : now, fateUnknown, pastDeadline, leads);
    }

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);
}
