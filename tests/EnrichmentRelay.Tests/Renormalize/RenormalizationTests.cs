using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Renormalize;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Renormalize;

/// <summary>
/// Requests completed through the real callback path (stored callbacks applied by <see cref="CallbackProcessor"/>), then
/// re-normalized after the Precept phone format changes from as received to E.164: the mapping fix.
/// </summary>
public sealed class RenormalizationTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new((services, _) =>
    {
        services.AddSingleton<IAnswerTranslation>(sp => new PreceptAnswerTranslation(sp.GetRequiredService<IOptions<PreceptOptions>>()));
        services.AddScoped<Renormalization>();
    });

    // Job 1: spaced phone (changes under E.164), E.164 phone (does not), not found, cut at the submit (no answer). Job 2: spaced phone.
    readonly List<EnrichmentRequested> requests = Enumerable.Range(0, 5)
        .Select(i => LedgerTestHost.ValidRequest(lastName: $"Doe{i}") with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] }).ToList();
    readonly List<ProviderJobRecord> jobs = [];
    DateTimeOffset start;

    PreceptOptions Precept => host.Services.GetRequiredService<IOptions<PreceptOptions>>().Value;

    public async Task InitializeAsync()
    {
        start = host.Time.GetUtcNow();
        var submits = 0;
        host.Provider.Answer = leads => new SubmitResult(SubmitStatus.Accepted, $"job-{++submits}",
            Completed: leads.Where(l => l.RequestId == requests[3].RequestId).ToDictionary(l => l.RequestId,
                _ => new LeadResult(Outcome.InsufficientCredits, Detail: "Precept accepted only part of the batch.")));
        foreach (var request in requests.Take(4))
            await host.ReceiveAsync(request);
        await FlushAsync();
        await host.ReceiveAsync(requests[4]);
        await FlushAsync();
        jobs.AddRange((await host.JobsAsync()).OrderBy(j => j.ExternalId));
        Assert.Equal(2, jobs.Count);

        await StoreAsync(jobs[0], Callback("job-1", "completed",
            Result(0, "jane.doe0@acme.com", "+1 555-012-3456"), Result(1, "jane.doe1@acme.com", "+15550100001"), Result(2, error: "Lead not found")));
        await StoreAsync(jobs[1], Callback("job-2", "completed", Result(4, "jane.doe4@acme.com", "+1 555-012-9999")));
        host.Time.Advance(TimeSpan.FromSeconds(1));
        await host.Services.GetRequiredService<CallbackProcessor>().ApplyPendingAsync(CancellationToken.None);
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(RequestState.Completed, r.State));
        Assert.Equal(5, (await host.OutboxAsync()).Count);
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task AnUnchangedTranslationPublishesNothing()
    {
        var report = await RunAsync();

        Assert.Equal((5, 0, 4, 1, 0), (report.Examined, report.Changed, report.Unchanged, report.WithoutAnswers, report.Failed));
        Assert.Equal(5, (await host.OutboxAsync()).Count);
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(1, r.Revision));
    }

    [Fact]
    public async Task AChangedResultGetsOneCorrectionThatSupersedesTheFirstEventAndASecondRunNone()
    {
        var before = await RequestAsync(requests[0].RequestId);
        Precept.PhoneFormat = PhoneFormat.E164;

        var report = await RunAsync();

        Assert.Equal((5, 2, 2, 1, 0), (report.Examined, report.Changed, report.Unchanged, report.WithoutAnswers, report.Failed));
        var outbox = await host.OutboxAsync();
        Assert.Equal(7, outbox.Count);
        var row = Assert.Single(outbox, o => o.MessageId == EnrichmentCompleted.EventIdFor(requests[0].RequestId, 2));
        var correction = JsonSerializer.Deserialize<EnrichmentCompleted>(row.Body, RelayJson.Options)!;
        Assert.Equal(2, correction.Revision);
        Assert.Equal(EnrichmentCompleted.EventIdFor(requests[0].RequestId), correction.Supersedes);
        Assert.Equal(row.MessageId, correction.EventId);
        Assert.Equal(["+15550123456"], correction.Phones);
        Assert.Equal(["jane.doe0@acme.com"], correction.Emails);
        Assert.Contains(correction.Contacts, c => c is { Field: EnrichmentField.Phone, Value: "+15550123456", Provider: ProviderName.Precept });
        Assert.Equal(before.CompletedAt, correction.CompletedAt);
        Assert.Contains(report.Corrections, c => c.RequestId == requests[0].RequestId && c.Revision == 2 && c.Supersedes == correction.Supersedes);

        var after = await RequestAsync(requests[0].RequestId);
        Assert.Equal(2, after.Revision);
        Assert.Equal(before.CreditsCharged, after.CreditsCharged);
        Assert.Equal(1, (await RequestAsync(requests[1].RequestId)).Revision);

        var again = await RunAsync();
        Assert.Equal((5, 0, 4, 1), (again.Examined, again.Changed, again.Unchanged, again.WithoutAnswers));
        Assert.Equal(7, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task ARevisionAfterTheSecondSupersedesTheSecond()
    {
        Precept.PhoneFormat = PhoneFormat.E164;
        await RunAsync();
        Precept.PhoneFormat = PhoneFormat.AsReceived; // the fix undone: the result changes back

        var report = await RunAsync();

        var third = Assert.Single(report.Corrections, c => c.RequestId == requests[0].RequestId);
        Assert.Equal(3, third.Revision);
        Assert.Equal(EnrichmentCompleted.EventIdFor(requests[0].RequestId, 2), third.Supersedes);
        var body = Assert.Single(await host.OutboxAsync(), o => o.MessageId == third.EventId).Body;
        Assert.Equal(["+1 555-012-3456"], JsonSerializer.Deserialize<EnrichmentCompleted>(body, RelayJson.Options)!.Phones);
    }

    [Fact]
    public async Task AJobWhoseAnswersNoLongerParseFailsItsRequestsAndTheOthersAreCorrected()
    {
        await StoreAsync(jobs[1], "{ this is not json", processed: true);
        Precept.PhoneFormat = PhoneFormat.E164;

        var report = await RunAsync();

        var failure = Assert.Single(report.Failures);
        Assert.Equal(requests[4].RequestId, failure.RequestId);
        Assert.Contains("cannot be translated again", failure.Reason);
        Assert.Equal((5, 1, 1), (report.Examined, report.Changed, report.Failed));
        Assert.Equal(requests[0].RequestId, Assert.Single(report.Corrections).RequestId);
        Assert.Equal(1, (await RequestAsync(requests[4].RequestId)).Revision);
    }

    [Fact]
    public async Task ABoundedBatchSaysWhereTheNextStartsAndTheRangeIsCoveredOnce()
    {
        Precept.PhoneFormat = PhoneFormat.E164;
        var examined = new List<int>();
        DateTimeOffset? after = null;
        var changed = 0;
        do
        {
            var report = await RunAsync(limit: 1, after: after);
            examined.Add(report.Examined);
            changed += report.Changed;
            after = report.ContinueAfter;
        } while (after is not null && examined.Count < 10);

        // Completed at two instants (the submit's cut, the callbacks): a batch takes every request of its last instant.
        Assert.Equal(5, examined.Sum());
        Assert.Equal(2, changed);
    }

    [Fact]
    public async Task RequestsCompletedOutsideTheRangeAreNotExamined()
    {
        Precept.PhoneFormat = PhoneFormat.E164;
        var report = await host.InScopeAsync(sp => sp.GetRequiredService<Renormalization>()
            .RunAsync(new RenormalizeRange(start.AddDays(-2), start.AddDays(-1), null, 100), CancellationToken.None));
        Assert.Equal(0, report.Examined);
        Assert.Equal(5, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public void AVerifiedCallbackIsNotTrustedAndAReadOfARunningJobDecidesNothing()
    {
        var lead = new StoredLead(new OpenLead(requests[0].RequestId, requests[0], null, start), start.AddSeconds(3));
        var translation = new PreceptAnswerTranslation(Options.Create(new PreceptOptions { VerifyCallbacks = true, PhoneFormat = PhoneFormat.E164 }));
        StoredAnswer[] answers =
        [
            new(StoredAnswer.Callback, null, Callback("job-1", "completed", Result(0, "spoofed@evil.example")), start),
            new(PreceptAnswerTranslation.JobRead, 200, """{"enrichment_id":"job-1","status":"processing","results":[]}""", start.AddSeconds(1)),
            new(PreceptAnswerTranslation.JobRead, 200, Callback("job-1", "completed", Result(0, "jane.doe0@acme.com", "+1 555-012-3456")), start.AddSeconds(2)),
            new(PreceptAnswerTranslation.JobRead, 200, Callback("job-1", "completed", Result(0, "later@acme.com")), start.AddSeconds(3)),
        ];

        var result = translation.Translate(answers, [lead], "job-1").Results[lead.Lead.RequestId];

        Assert.Equal(Outcome.Found, result.Outcome);
        Assert.Equal(["jane.doe0@acme.com"], result.Emails);
        Assert.Equal(["+15550123456"], result.Phones);
    }

    [Theory]
    [InlineData("+1 555-012-3456", "+15550123456")]
    [InlineData("+44 (0)20 7946 0958", "+44 (0)20 7946 0958")]
    [InlineData("0044 20 7946.0958", "+442079460958")]
    [InlineData("020 7946 0958", "020 7946 0958")]
    [InlineData("+1 555 0123 ext. 7", "+1 555 0123 ext. 7")]
    [InlineData("+12", "+12")]
    public void PhonesBecomeE164OnlyWhenTheyAreInternationalNumbers(string received, string written) =>
        Assert.Equal(written, PhoneNumbers.ToE164(received));

    Task<RenormalizeReport> RunAsync(int limit = 100, DateTimeOffset? after = null) => host.InScopeAsync(sp =>
        sp.GetRequiredService<Renormalization>().RunAsync(new RenormalizeRange(start, start.AddDays(1), after, limit), CancellationToken.None));

    async Task<EnrichmentRequestRecord> RequestAsync(Guid id) => (await host.RequestsAsync()).Single(r => r.RequestId == id);

    async Task FlushAsync()
    {
        host.Time.Advance(host.Provider.FlushWindow);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
    }

    Task StoreAsync(ProviderJobRecord job, string body, bool processed = false) => host.InScopeAsync(async sp =>
    {
        var db = sp.GetRequiredService<RelayDbContext>();
        db.ProviderCallbacks.Add(new ProviderCallbackRecord
        {
            ProviderJobId = job.Id, Body = body, ReceivedAt = host.Time.GetUtcNow(), ProcessedAt = processed ? host.Time.GetUtcNow() : null,
        });
        return await db.SaveChangesAsync();
    });

    string Result(int lead, string? email = null, string? phone = null, string? error = null) => JsonSerializer.Serialize(new
    {
        custom_data = new { rid = requests[lead].RequestId.ToString() },
        enrich_email = email,
        enrich_phone = phone,
        error,
    });

    static string Callback(string enrichmentId, string status, params string[] results) =>
        $$"""{"enrichment_id":"{{enrichmentId}}","status":"{{status}}","results":[{{string.Join(',', results)}}]}""";
}
