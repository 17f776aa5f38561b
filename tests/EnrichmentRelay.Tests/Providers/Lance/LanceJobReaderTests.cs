using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Lance;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests.Providers.Lance;

/// <summary>
/// Lance's submit and its job reader against the sandbox on loopback, both on one fake clock: what Lance answers becomes
/// these results. Polls go through the job engine (<see cref="JobPolls"/>), which applies the readings to the ledger.
/// </summary>
public sealed class LanceJobReaderTests(ITestOutputHelper output) : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly LanceOptions options = new() { ApiKey = "k", FlushWindow = TimeSpan.Zero, Deadline = TimeSpan.FromHours(24), CreditsPerEnrichment = 2.5m };

    LanceSimulator Lance => sandbox.Lance;

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) => services.AddLance(options), scriptedProvider: false);
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
        Lance.Settings.ProcessingDelay = TimeSpan.FromMinutes(1);
        var requests = Enumerable.Range(0, 2500).Select(_ => Request([EnrichmentField.Email, EnrichmentField.Phone])).ToList();
        // In batches of 100, as the bus consumer receives them: one by one would be 2,500 transactions.
        foreach (var batch in requests.Chunk(100))
            await host.ReceiveBatchAsync([.. batch.Select(r => new IncomingRequest(r, Guid.NewGuid()))]);
        var flusher = host.Services.GetRequiredService<BatchFlusher>();
        for (var batch = 0; batch < 3; batch++)
            await flusher.FlushAsync(LanceTasks.Lane, CancellationToken.None);

        host.Time.Advance(TimeSpan.FromMinutes(2));
        var before = Lance.Counters.QueryCalls;
        await PollAsync();
        var round = Lance.Counters.QueryCalls - before;

        var limit = 2 * (int)Math.Ceiling(2500 / 200.0);
        output.WriteLine($"[figure] Lance poll round for 2,500 requests (5,000 tasks): {round} query calls (limit {limit})");
        Assert.True(round <= limit, $"{round} query calls in one round");
        Assert.All(await host.RequestsAsync(), r =>
        {
            Assert.Equal(Outcome.Found, r.Outcome);
            Assert.Equal(2 * options.CreditsPerEnrichment, r.CreditsCharged);
        });
        Assert.All(Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ReusedFinishedRecordsCompleteAtSubmitWithoutAPollOrACallAndCostNothing()
    {
        var person = Guid.NewGuid().ToString();
        var first = Request([EnrichmentField.Email], person);
        await SubmitAsync(first);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var again = Request([EnrichmentField.Email], person);
        await SubmitAsync(again);

        var records = await host.RequestsAsync();
        var reused = records.Single(r => r.RequestId == again.RequestId);
        Assert.Equal(Outcome.Found, reused.Outcome);
        Assert.Equal([$"person-{person.Replace("-", "")[..8]}@lance.example"], Emails(reused));
        Assert.Equal(0m, reused.CreditsCharged);
        Assert.Equal(options.CreditsPerEnrichment, records.Single(r => r.RequestId == first.RequestId).CreditsCharged);
        // Looked up, found finished, never sent: no reading of Lance's pricing can charge for it.
        Assert.Equal(1, Lance.Counters.Submissions[$"{person}:emails"]);
        Assert.Equal(1, Lance.Counters.Charges[$"{person}:emails"]);
    }

    [Fact]
    public async Task TaskTheQueryNeverMentionsTimesOutAtTheRelaysDeadline()
    {
        var person = Guid.NewGuid().ToString();
        Lance.SetOutcome(person, "emails", LanceOutcome.Omitted);
        var request = Request([EnrichmentField.Email], person);
        await SubmitAsync(request);

        host.Time.Advance(TimeSpan.FromHours(1));
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await host.RequestsAsync()).Single().State);

        host.Time.Advance(options.Deadline);
        await PollAsync();
        var record = (await host.RequestsAsync()).Single();
        Assert.Equal(Outcome.TimedOut, record.Outcome);
        Assert.Equal(options.CreditsPerEnrichment, record.CreditsCharged); // charged at submit, whatever came of it
    }

    [Fact]
    public async Task SubmitThatFailedWithoutAnAnswerIsSentAgainByThePollAndChargedOnce()
    {
        Lance.FailNextSubmits(1, 503);
        var request = Request([EnrichmentField.Email]);
        await SubmitAsync(request);

        await PollAsync();                       // sends it again
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();                       // finds it finished

        var record = (await host.RequestsAsync()).Single();
        Assert.Equal(Outcome.Found, record.Outcome);
        Assert.Equal(options.CreditsPerEnrichment, record.CreditsCharged);
        Assert.All(Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
    }

    [Theory]
    [InlineData(LanceCharging.AtSubmit)]
    [InlineData(LanceCharging.OnDataFound)]
    public async Task SubmitWhoseAnswerWasLostIsFoundAgainAndCountedAsOurs(LanceCharging charging)
    {
        Lance.Settings.Charging = charging;
        Lance.DropConnectionAfterAcceptNext(1);
        var request = Request([EnrichmentField.Email]);
        await SubmitAsync(request);

        await PollAsync();                       // finds the record the lost call created: not sent again
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var record = (await host.RequestsAsync()).Single();
        Assert.Equal(Outcome.Found, record.Outcome);
        Assert.Equal(options.CreditsPerEnrichment, record.CreditsCharged);
        Assert.Equal(1, Assert.Single(Lance.Counters.Submissions).Value);
        Assert.Equal(1, Assert.Single(Lance.Counters.Charges).Value);
    }

    [Fact]
    public async Task SubmitCutOffBeforeItsAnswerWasRecordedIsReconciledByThePollAsOurs()
    {
        Lance.DropConnectionAfterAcceptNext(1);
        var request = Request([EnrichmentField.Email]);
        await SubmitAsync(request);
        // As if the relay died between the bulk call and recording anything: no task state, the job still Submitting.
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            await db.Requests.ExecuteUpdateAsync(set => set.SetProperty(r => r.ProviderState, (string?)null));
            return await db.ProviderJobs.ExecuteUpdateAsync(set => set.SetProperty(j => j.State, ProviderJobState.Submitting));
        });

        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await host.RequestsAsync()).Single().State); // its submit may still be under way
        Assert.Equal(1, Lance.Counters.BulkCalls);

        host.Time.Advance(TimeSpan.FromMinutes(5)); // past the orphan window
        await PollAsync();

        var record = (await host.RequestsAsync()).Single();
        Assert.Equal(Outcome.Found, record.Outcome);
        Assert.Equal(options.CreditsPerEnrichment, record.CreditsCharged);
        Assert.Equal(1, Lance.Counters.BulkCalls);
    }

    [Theory]
    [InlineData(404)]
    [InlineData(400)]
    public async Task FinishedTaskWhosePersonReadFindsNoPersonCompletesFailed(int unknownPersonStatus)
    {
        Lance.Settings.UnknownPersonReadStatus = unknownPersonStatus;
        var person = Guid.NewGuid().ToString();
        var request = Request([EnrichmentField.Email, EnrichmentField.Phone], person);
        await SubmitAsync(request);
        Lance.RemovePerson(person);

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var record = (await host.RequestsAsync()).Single();
        Assert.Equal(Outcome.Failed, record.Outcome);
        Assert.Empty(Emails(record));
        Assert.Contains($"Lance reported data found, but holds no person {person}", record.Detail);
        Assert.Equal(2 * options.CreditsPerEnrichment, record.CreditsCharged);
    }

    [Fact]
    public async Task PersonReadThatFailsWaitsForTheNextPollWithoutHoldingUpTheOthers()
    {
        var failing = Guid.NewGuid().ToString();
        var requests = new[] { Request([EnrichmentField.Email], failing), Request([EnrichmentField.Email]), Request([EnrichmentField.Phone]) };
        await SubmitAsync(requests);
        Lance.FailPersonReads(failing, 1, 503);

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();
        var records = await host.RequestsAsync();
        Assert.Equal(RequestState.Submitted, records.Single(r => r.RequestId == requests[0].RequestId).State);
        Assert.All(records.Where(r => r.RequestId != requests[0].RequestId), r => Assert.Equal(Outcome.Found, r.Outcome));

        await PollAsync();
        var recovered = (await host.RequestsAsync()).Single(r => r.RequestId == requests[0].RequestId);
        Assert.Equal(Outcome.Found, recovered.Outcome);
        Assert.Single(Emails(recovered));
    }

    [Fact]
    public async Task PersonReadThatKeepsFailingFailsTheRequestAtTheDeadline()
    {
        var person = Guid.NewGuid().ToString();
        await SubmitAsync(Request([EnrichmentField.Email], person));
        Lance.FailPersonReads(person, 1_000, 500);

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await host.RequestsAsync()).Single().State);

        host.Time.Advance(options.Deadline);
        await PollAsync();
        var record = (await host.RequestsAsync()).Single();
        Assert.Equal(Outcome.Failed, record.Outcome);
        Assert.Contains("could not be read before the relay's deadline", record.Detail);
        Assert.Equal(options.CreditsPerEnrichment, record.CreditsCharged);
    }

    [Fact]
    public async Task JobWhosePersonReadsKeepFailingIsReadAgainAfterABackOffWhileAnotherJobOfThePollCompletes()
    {
        var failing = Guid.NewGuid().ToString();
        var healthy = Guid.NewGuid().ToString();
        var stuck = Request([EnrichmentField.Email], failing);
        await SubmitAsync(stuck);
        Lance.FailPersonReads(failing, 1_000, 500);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync(); // Lance finished the task (kept), but its contacts cannot be read
        var stuckJob = (await RecordAsync(stuck)).ProviderJobId!.Value;

        var other = Request([EnrichmentField.Email], healthy);
        await SubmitAsync(other);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync(); // one poll: the stuck job gets nowhere, the other completes

        Assert.Equal(Outcome.Found, (await RecordAsync(other)).Outcome);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(stuck)).State);
        var jobs = (await host.JobsAsync()).ToDictionary(j => j.Id);
        var failed = jobs[stuckJob];
        Assert.Equal(1, failed.ReadFailures);
        Assert.Contains($"Reading Lance person {failing}", failed.LastError);
        Assert.Contains("HTTP 500", failed.LastError);
        Assert.True(failed.NextPollAt > host.Time.GetUtcNow(), "a failed read is tried again after a back-off");
        Assert.Equal(ProviderJobState.Completed, jobs[(await RecordAsync(other)).ProviderJobId!.Value].State);
        // What Lance answered is kept against the job it was read for: the failed person reads against the stuck job alone.
        var links = await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderAnswerLinks.AsNoTracking()
            .Where(l => l.Answer!.Status == 500).Select(l => l.JobId).ToListAsync());
        Assert.NotEmpty(links);
        Assert.All(links, job => Assert.Equal(stuckJob, job));

        // Not read again before its back-off has passed; then, once Lance answers, it completes and its failures are forgotten.
        var reads = Lance.Counters.PersonReads;
        await PollAsync();
        Assert.Equal(reads, Lance.Counters.PersonReads);
        Lance.FailPersonReads(failing, 0);
        host.Time.Advance(failed.NextPollAt!.Value - host.Time.GetUtcNow());
        await PollAsync();
        Assert.Equal(Outcome.Found, (await RecordAsync(stuck)).Outcome);
        Assert.Equal(0, (await host.JobsAsync()).Single(j => j.Id == stuckJob).ReadFailures);
    }

    [Fact]
    public async Task RequestWhoseTaskStateIsUnreadableFailsItsOwnJobsReadAndNoOtherJobs()
    {
        var broken = Request([EnrichmentField.Email]);
        await SubmitAsync(broken);
        var other = Request([EnrichmentField.Email]);
        await SubmitAsync(other);
        await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Requests.Where(r => r.RequestId == broken.RequestId)
            .ExecuteUpdateAsync(set => set.SetProperty(r => r.ProviderState, "{\"emails\":")));

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        Assert.Equal(Outcome.Found, (await RecordAsync(other)).Outcome);
        Assert.Equal(RequestState.Submitted, (await RecordAsync(broken)).State);
        var brokenJob = (await RecordAsync(broken)).ProviderJobId;
        var job = (await host.JobsAsync()).Single(j => j.Id == brokenJob);
        Assert.Equal(1, job.ReadFailures);
        Assert.Contains("cannot be read as Lance tasks", job.LastError);
    }

    [Fact]
    public async Task PersonWhoseReadFailsBeforeTheSubmitIsSentByTheNextPollAlone()
    {
        var failing = Guid.NewGuid().ToString();
        var other = Guid.NewGuid().ToString();
        Lance.FailPersonReads(failing, 1, 500);
        await SubmitAsync(Request([EnrichmentField.Email], failing), Request([EnrichmentField.Email], other));

        Assert.False(Lance.Counters.Submissions.ContainsKey($"{failing}:emails"));
        Assert.Equal(1, Lance.Counters.Submissions[$"{other}:emails"]);

        await PollAsync();
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(Outcome.Found, r.Outcome));
        Assert.All(Lance.Counters.Submissions.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task OnlyTheContactsThisRequestFoundAreReportedNotThoseOtherOrganizationsPutOnThePerson()
    {
        Lance.Settings.PreexistingContacts = true;
        var both = Guid.NewGuid().ToString();
        var nothing = Guid.NewGuid().ToString();
        Lance.AddPerson(both, "Ann", "Archer");
        Lance.AddPerson(nothing, "Bob", "Baker");
        Lance.SetOutcome(both, "phones", LanceOutcome.NotFound);
        Lance.SetOutcome(nothing, "emails", LanceOutcome.NotFound);
        var otherOrgs = Lance.PersonJson(both)!["emails"]!.AsArray().Single()!.GetValue<string>();
        var requests = new[] { Request([EnrichmentField.Email, EnrichmentField.Phone], both), Request([EnrichmentField.Email], nothing) };
        await SubmitAsync(requests);

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var records = await host.RequestsAsync();
        var found = records.Single(r => r.RequestId == requests[0].RequestId);
        Assert.Equal(Outcome.Found, found.Outcome);
        Assert.Equal([$"ann.archer@example-{both.Replace("-", "")[..6]}.com"], Emails(found));
        Assert.DoesNotContain(otherOrgs, Emails(found));
        Assert.Empty(JsonSerializer.Deserialize<List<string>>(found.PhonesJson!)!);
        Assert.Contains("1 more already on Lance's shared person record before this request, not reported", found.Detail);
        Assert.Contains("phones: Lance found nothing", found.Detail);
        Assert.Equal(2 * options.CreditsPerEnrichment, found.CreditsCharged);

        // Nothing found for this request: the other organization's email on the person is not reported as found.
        var notFound = records.Single(r => r.RequestId == requests[1].RequestId);
        Assert.Equal(Outcome.NotFound, notFound.Outcome);
        Assert.Empty(Emails(notFound));

        // A later request reuses the finished enrichment: all the person's emails, and the detail says why.
        var later = Request([EnrichmentField.Email], both);
        await SubmitAsync(later);
        var reused = (await host.RequestsAsync()).Single(r => r.RequestId == later.RequestId);
        Assert.Equal(Outcome.Found, reused.Outcome);
        Assert.Equal(2, Emails(reused).Count);
        Assert.Contains("found before this request", reused.Detail);
        Assert.Equal(0m, reused.CreditsCharged);
    }

    [Theory]
    [InlineData(LanceCharging.AtSubmit)]
    [InlineData(LanceCharging.OnDataFound)]
    public async Task CreditsChargedAreWhatLanceChargedUnderEitherReadingOfItsPricing(LanceCharging charging)
    {
        Lance.Settings.Charging = charging;
        var found = Guid.NewGuid().ToString();
        var notFound = Guid.NewGuid().ToString();
        var failed = Guid.NewGuid().ToString();
        Lance.SetOutcome(notFound, "emails", LanceOutcome.NotFound);
        Lance.SetOutcome(failed, "emails", LanceOutcome.Failed);
        // Two requests for one person and field in one call share one record: one of them pays for it.
        var requests = new[] { found, found, notFound, failed }.Select(p => Request([EnrichmentField.Email], p)).ToArray();
        await SubmitAsync(requests);
        var whilePending = Request([EnrichmentField.Email], found);
        await SubmitAsync(whilePending); // reuses the pending record

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var records = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        var atSubmit = charging == LanceCharging.AtSubmit;
        var twins = new[] { records[requests[0].RequestId].CreditsCharged, records[requests[1].RequestId].CreditsCharged };
        Assert.Contains(0m, twins);
        Assert.Contains(options.CreditsPerEnrichment, twins);
        Assert.Equal(0m, records[whilePending.RequestId].CreditsCharged);
        Assert.Equal(atSubmit ? options.CreditsPerEnrichment : 0m, records[requests[2].RequestId].CreditsCharged);
        Assert.Equal(atSubmit ? options.CreditsPerEnrichment : 0m, records[requests[3].RequestId].CreditsCharged);
        Assert.Equal(Outcome.Failed, records[requests[3].RequestId].Outcome);
        // The ledger says what Lance says, charge for charge.
        Assert.Equal(Lance.Counters.CreditsCharged * options.CreditsPerEnrichment, records.Values.Sum(r => r.CreditsCharged ?? 0));
    }

    [Theory]
    [InlineData(LanceErrorBody.Nested)]
    [InlineData(LanceErrorBody.Flat)]
    [InlineData(LanceErrorBody.PlainText)]
    public async Task BulkCallRefusedForOneBadIdIsSplitUntilOnlyThatPersonIsRejected(LanceErrorBody errorBody)
    {
        Lance.Settings.ErrorBody = errorBody;
        var requests = Enumerable.Range(0, 40).Select(_ => Request([EnrichmentField.Email, EnrichmentField.Phone])).ToList();
        var bad = requests[29].Lead!.LancePersonId!;
        Lance.MarkInvalid(bad);
        await SubmitAsync([.. requests]);

        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var records = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        var rejected = records[requests[29].RequestId];
        Assert.Equal(Outcome.Rejected, rejected.Outcome);
        Assert.Contains($"selection.includedIds: '{bad}' is not a valid lead id.", rejected.Detail);
        Assert.Contains("HTTP 400", rejected.Detail);
        if (errorBody != LanceErrorBody.PlainText)
            Assert.Contains("VALIDATION_ERROR", rejected.Detail);
        Assert.Equal(0m, rejected.CreditsCharged);
        Assert.All(requests.Where(r => r != requests[29]), r => Assert.Equal(Outcome.Found, records[r.RequestId].Outcome));
        Assert.All(Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
        Assert.Equal(2 * 39, Lance.Counters.Charges.Count);
        output.WriteLine($"[figure] Lance bulk calls to isolate 1 refused id among 40 persons (2 fields, {errorBody} error bodies): {Lance.Counters.BulkCalls}");
        Assert.True(Lance.Counters.BulkCalls <= 2 * (1 + 2 * (int)Math.Ceiling(Math.Log2(40))));
    }

    [Theory]
    [InlineData(LanceUnknownIds.Refuse)]
    [InlineData(LanceUnknownIds.Skip)]
    public async Task IdLanceDoesNotKnowIsRejectedAndTheRestGoThrough(LanceUnknownIds unknownIds)
    {
        Lance.Settings.UnknownIds = unknownIds;
        var known = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid().ToString()).ToList();
        known.ForEach(p => Lance.AddPerson(p, "Kim", "Known"));
        var stranger = Request([EnrichmentField.Email]);
        await SubmitAsync([stranger, .. known.Select(p => Request([EnrichmentField.Email], p))]);

        await PollAsync();
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var records = await host.RequestsAsync();
        var rejected = records.Single(r => r.RequestId == stranger.RequestId);
        Assert.Equal(Outcome.Rejected, rejected.Outcome);
        Assert.Contains(unknownIds == LanceUnknownIds.Refuse ? "no lead" : "made no enrichment for this person", rejected.Detail);
        Assert.All(records.Where(r => r.RequestId != stranger.RequestId), r => Assert.Equal(Outcome.Found, r.Outcome));
        Assert.Equal(0m, rejected.CreditsCharged);
    }

    [Fact]
    public async Task EveryRequestEndsRightWithTheSandboxOnlyAsGoodAsLancesPagesPromise()
    {
        Lance.Settings.UseDocumentedOnly();
        var retried = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid().ToString()).ToList();
        retried.ForEach(p => Lance.SetOutcome(p, "emails", LanceOutcome.Failed));
        await SubmitAsync([.. retried.Select(p => Request([EnrichmentField.Email], p))]);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(Outcome.Failed, r.Outcome));

        // Those failed records are Lance's history now: the query answers each beside the new one, in no particular order.
        retried.ForEach(p => Lance.SetOutcome(p, "emails", LanceOutcome.Found));
        var people = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid().ToString()).ToList();
        people.Where((_, i) => i % 3 == 1).ToList().ForEach(p => Lance.SetOutcome(p, "phones", LanceOutcome.NotFound));
        people.Where((_, i) => i % 5 == 2).ToList().ForEach(p => Lance.SetOutcome(p, "emails", LanceOutcome.Timeout));
        Lance.MarkInvalid(people[7]);
        var requests = people.Select(p => Request([EnrichmentField.Email, EnrichmentField.Phone], p)).ToList();
        var again = retried.Select(p => Request([EnrichmentField.Email], p)).ToList();
        await SubmitAsync([.. requests, .. again]);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await PollAsync();

        var records = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        foreach (var (person, i) in people.Select((p, i) => (p, i)))
        {
            var record = records[requests[i].RequestId];
            var expected = i == 7 ? Outcome.Rejected : i % 5 == 2 && i % 3 == 1 ? Outcome.TimedOut : Outcome.Found;
            Assert.Equal(expected, record.Outcome);
            // Charged only on success under this reading: one credit per field found.
            var foundFields = i == 7 ? 0 : (i % 5 == 2 ? 0 : 1) + (i % 3 == 1 ? 0 : 1);
            Assert.Equal(foundFields * options.CreditsPerEnrichment, record.CreditsCharged);
        }
        Assert.Contains("HTTP 400", records[requests[7].RequestId].Detail);
        Assert.All(again, r =>
        {
            Assert.Equal(Outcome.Found, records[r.RequestId].Outcome);
            Assert.Single(Emails(records[r.RequestId]));
            Assert.Equal(options.CreditsPerEnrichment, records[r.RequestId].CreditsCharged);
        });
        Assert.Equal(Lance.Counters.CreditsCharged * options.CreditsPerEnrichment, records.Values.Sum(r => r.CreditsCharged ?? 0));
        Assert.All(Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
        Assert.DoesNotContain(Lance.Enrichments, e => Guid.TryParse(e.Id, out _));
    }

    async Task SubmitAsync(params EnrichmentRequested[] requests)
    {
        foreach (var request in requests)
            await host.ReceiveAsync(request);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(LanceTasks.Lane, CancellationToken.None);
    }

    /// <summary>One tick of Lance's poll: the engine hands the due jobs to the reader and applies its readings.</summary>
    Task PollAsync() => host.InScopeAsync(async sp =>
    {
        await sp.GetRequiredService<JobPolls>().PollAsync(sp.GetRequiredService<IJobReader>(), CancellationToken.None);
        return 0;
    });

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);

    static List<string> Emails(EnrichmentRequestRecord record) => JsonSerializer.Deserialize<List<string>>(record.EmailsJson ?? "[]")!;

    static EnrichmentRequested Request(IReadOnlyList<EnrichmentField> fields, string? personId = null) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = personId ?? Guid.NewGuid().ToString() },
        Fields = fields,
    };
}
