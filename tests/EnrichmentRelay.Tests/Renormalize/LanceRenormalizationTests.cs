using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Renormalize;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Lance;
using EnrichmentRelay.Sandbox.Precept;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Tests.Providers.Lance;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Renormalize;

/// <summary>
/// Lance requests completed through the real path (flush, poll, against the sandbox writing phones spaced), then
/// re-normalized after <see cref="LanceOptions.PhoneFormat"/> changes from as received to E.164: the mapping fix.
/// </summary>
public sealed class LanceRenormalizationTests : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly LanceOptions options = new() { ApiKey = "k", FlushWindow = TimeSpan.Zero, Deadline = TimeSpan.FromHours(24), CreditsPerEnrichment = 2m };
    // Job 1: email and phone found. Job 2: email found; phone not found.
    readonly EnrichmentRequested both = Request(EnrichmentField.Email, EnrichmentField.Phone);
    readonly EnrichmentRequested email = Request(EnrichmentField.Email);
    readonly EnrichmentRequested noPhone = Request(EnrichmentField.Phone);
    DateTimeOffset start;

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddLance(options);
            services.AddSingleton<IAnswerTranslation, LanceAnswerTranslation>();
            services.AddScoped<Renormalization>();
        }, scriptedProvider: false);
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { LanceApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = sandbox.BaseAddress;
        sandbox.Lance.Settings.PhoneStyle = PhoneStyle.Spaced;
        sandbox.Lance.SetOutcome(noPhone.Lead!.LancePersonId!, "phones", LanceOutcome.NotFound);
        start = host.Time.GetUtcNow();

        await SubmitAsync(both);
        await SubmitAsync(email, noPhone);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await host.InScopeAsync(async sp =>
        {
            await sp.GetRequiredService<JobPolls>().PollAsync(sp.GetRequiredService<IJobReader>(), CancellationToken.None);
            return 0;
        });
        Assert.All(await host.RequestsAsync(), r => Assert.Equal(RequestState.Completed, r.State));
        Assert.Matches(@"^\+1 555-\d{3}-\d{4}$", Assert.Single(Phones(await RecordAsync(both))));
        Assert.Equal(2, (await host.JobsAsync()).Count);
        Assert.Equal(3, (await host.OutboxAsync()).Count);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    [Fact]
    public async Task AnUnchangedTranslationPublishesNothing()
    {
        var report = await RunAsync();

        Assert.Equal((3, 0, 3, 0, 0), (report.Examined, report.Changed, report.Unchanged, report.WithoutAnswers, report.Failed));
        Assert.Equal(3, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task ThePhoneFormatFixCorrectsTheLanceRequestWithAPhoneOnceAndKeepsItsCredits()
    {
        var before = await RecordAsync(both);
        options.PhoneFormat = PhoneFormat.E164;

        var report = await RunAsync();

        Assert.Equal((3, 1, 2, 0), (report.Examined, report.Changed, report.Unchanged, report.Failed));
        var correction = Assert.Single(report.Corrections);
        Assert.Equal((both.RequestId, 2, EnrichmentCompleted.EventIdFor(both.RequestId)), (correction.RequestId, correction.Revision, correction.Supersedes));
        var body = Assert.Single(await host.OutboxAsync(), o => o.MessageId == correction.EventId).Body;
        var published = JsonSerializer.Deserialize<EnrichmentCompleted>(body, RelayJson.Options)!;
        var phone = Assert.Single(published.Phones);
        Assert.Equal(PhoneNumbers.ToE164(Assert.Single(Phones(before))), phone);
        Assert.Matches(@"^\+1555\d{7}$", phone);
        Assert.Equal(Emails(before), published.Emails);
        Assert.Contains(published.Contacts, c => c is { Field: EnrichmentField.Phone, Provider: ProviderName.Lance } && c.Value == phone);
        Assert.Equal(before.CreditsCharged, (await RecordAsync(both)).CreditsCharged);
        Assert.Equal(2 * options.CreditsPerEnrichment, before.CreditsCharged);

        var again = await RunAsync();
        Assert.Equal((0, 3), (again.Changed, again.Unchanged));
        Assert.Equal(4, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task AJobWhosePersonReadNoLongerParsesFailsOnlyItsOwnRequests()
    {
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            var job = (await db.Attempts.SingleAsync(a => a.RequestId == email.RequestId)).JobId;
            Assert.Equal(job, (await db.Attempts.SingleAsync(a => a.RequestId == noPhone.RequestId)).JobId);
            var reads = await db.ProviderAnswerLinks.Where(l => l.JobId == job && l.Answer!.Endpoint == LanceAnswerTranslation.PersonRead)
                .Select(l => l.Answer!).ToListAsync();
            Assert.NotEmpty(reads);
            foreach (var read in reads)
                read.Body = "{ this is not json";
            return await db.SaveChangesAsync();
        });
        options.PhoneFormat = PhoneFormat.E164;

        var report = await RunAsync();

        Assert.Equal((3, 1, 2), (report.Examined, report.Changed, report.Failed));
        Assert.Equal(both.RequestId, Assert.Single(report.Corrections).RequestId);
        Assert.Equal(new[] { email.RequestId, noPhone.RequestId }.Order(), report.Failures.Select(f => f.RequestId).Order());
        Assert.All(report.Failures, f => Assert.Contains("cannot be translated again", f.Reason));
        Assert.Equal(1, (await RecordAsync(email)).Revision);
    }

    [Fact]
    public async Task ARequestWhoseTaskStateIsGoneIsCountedWithoutAnswersWithTheReason()
    {
        // As a waterfall's next step leaves it: the Lance state cleared.
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            (await db.Requests.SingleAsync(r => r.RequestId == both.RequestId)).ProviderState = null;
            return await db.SaveChangesAsync();
        });
        options.PhoneFormat = PhoneFormat.E164;

        var report = await RunAsync();

        Assert.Equal((0, 1, 2), (report.Changed, report.WithoutAnswers, report.Unchanged));
        Assert.Equal(1, report.WithoutAnswersWhy[LanceAnswerTranslation.StateGone]);
        Assert.Equal(1, (await RecordAsync(both)).Revision);
    }

    [Fact]
    public void AFoundTaskWithoutAPersonReadThatSaysWhoseItIsIsNotReplayed()
    {
        var person = both.Lead!.LancePersonId!;
        var state = LanceTasks.Write(new Dictionary<string, LanceTask>
        {
            ["phones"] = new LanceTask("finished", DataFound: true, Outcome: Outcome.Found) { Checked = true, Before = [] },
        });
        var lead = new StoredLead(new OpenLead(both.RequestId, both, state, start), start.AddMinutes(1));
        StoredAnswer[] answers =
        [
            new(LanceAnswerTranslation.PersonRead, 200, """{"emails":[],"phones":["+1 555-000-1111"]}""", start),
            new(LanceAnswerTranslation.PersonRead, 200, $$"""{"id":"{{person}}","emails":[],"phones":["+1 555-000-2222"]}""", start.AddMinutes(2)),
        ];
        var translation = new LanceAnswerTranslation(Options.Create(new LanceOptions { PhoneFormat = PhoneFormat.E164 }));

        var replay = translation.Translate(answers, [lead], null);

        Assert.Empty(replay.Results); // the first says no id; the second came after the request ended
        Assert.Equal(LanceAnswerTranslation.PersonReadUnknown, replay.NotReplayed[both.RequestId]);

        var found = translation.Translate([answers[1] with { ReceivedAt = start }], [lead], null).Results[both.RequestId];
        Assert.Equal((Outcome.Found, "+15550002222"), (found.Outcome, Assert.Single(found.Phones!)));
    }

    Task<RenormalizeReport> RunAsync() => host.InScopeAsync(sp =>
        sp.GetRequiredService<Renormalization>().RunAsync(new RenormalizeRange(start, start.AddDays(1), null, 100), CancellationToken.None));

    async Task SubmitAsync(params EnrichmentRequested[] requests)
    {
        foreach (var request in requests)
            await host.ReceiveAsync(request);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(LanceTasks.Lane, CancellationToken.None);
    }

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);

    static List<string> Phones(EnrichmentRequestRecord record) => JsonSerializer.Deserialize<List<string>>(record.PhonesJson ?? "[]")!;
    static List<string> Emails(EnrichmentRequestRecord record) => JsonSerializer.Deserialize<List<string>>(record.EmailsJson ?? "[]")!;

    static EnrichmentRequested Request(params EnrichmentField[] fields) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { LancePersonId = Guid.NewGuid().ToString() },
        Fields = fields,
    };
}
