using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Renormalize;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Woodpecker;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Tests.Providers.Woodpecker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Renormalize;

/// <summary>
/// Woodpecker requests completed through the real path (flush, polls, against the sandbox in its convenient reading and
/// in the least convenient one its pages allow), then re-normalized. Woodpecker's translation has no setting a fix
/// changes yet, so a changed result is one the test writes into the ledger as an older translation would have stored it.
/// </summary>
public sealed class WoodpeckerRenormalizationTests : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly WoodpeckerOptions options = new()
    {
        ApiKey = "k", FlushWindow = TimeSpan.Zero, PollInterval = TimeSpan.FromSeconds(30), Deadline = TimeSpan.FromHours(48),
        ProspectMatchTimeout = TimeSpan.FromHours(1),
    };
    readonly EnrichmentRequested converted = LeadRequest("uid-found", "Bachman");
    readonly EnrichmentRequested notConverted = LeadRequest("uid-miss", "Nobody");
    readonly EnrichmentRequested enriched = ProspectRequest("pat.enriched@acme.com");
    readonly EnrichmentRequested plain = ProspectRequest("pat.plain@acme.com");
    DateTimeOffset start;

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, _) =>
        {
            services.AddWoodpecker(options);
            services.AddSingleton<IAnswerTranslation, WoodpeckerAnswerTranslation>();
            services.AddScoped<Renormalization>();
        });
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { WoodpeckerApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = new Uri(sandbox.BaseAddress, "rest/");
        start = host.Time.GetUtcNow();
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    /// <summary>The four requests completed: a converted lead, a lead not converted, an enriched prospect, one not enriched.</summary>
    async Task CompleteAsync(bool documentedOnly)
    {
        var woodpecker = sandbox.Woodpecker;
        if (documentedOnly)
            woodpecker.Settings.UseDocumentedOnly();
        woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(10);
        woodpecker.SetLeadOutcome("uid-miss", LeadConversion.NotConverted);
        woodpecker.AddProspect("Pat.Enriched@Acme.com", "Pat", "Enriched", "Acme", "acme.com");
        woodpecker.AddProspect("pat.plain@acme.com", "Pat", "Plain", "Acme", "acme.com");
        woodpecker.SetProspectEnrichment("pat.plain@acme.com", false);
        await SubmitAsync(WoodpeckerLeads.LeadsLane, converted, notConverted);
        await SubmitAsync(WoodpeckerLeads.ProspectsLane, enriched, plain);
        for (var tick = 0; tick < 10 && (await host.RequestsAsync()).Any(r => r.State != RequestState.Completed); tick++)
        {
            host.Time.Advance(options.PollInterval);
            await host.InScopeAsync(async sp =>
            {
                await sp.GetRequiredService<JobPolls>().PollAsync(sp.GetRequiredService<IJobReader>(), CancellationToken.None);
                return 0;
            });
        }
        var records = await host.RequestsAsync();
        Assert.All(records, r => Assert.Equal(RequestState.Completed, r.State));
        Assert.Equal(["erlich.bachman@bachmanity.com"], Emails(records.Single(r => r.RequestId == converted.RequestId)));
        Assert.Equal(Outcome.NotFound, records.Single(r => r.RequestId == notConverted.RequestId).Outcome);
        Assert.Equal(["Pat.Enriched@Acme.com"], Emails(records.Single(r => r.RequestId == enriched.RequestId)));
        Assert.Equal(Outcome.NotFound, records.Single(r => r.RequestId == plain.RequestId).Outcome);
        Assert.Equal(4, (await host.OutboxAsync()).Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnUnchangedTranslationPublishesNothing(bool documentedOnly)
    {
        await CompleteAsync(documentedOnly);

        var report = await RunAsync();

        Assert.Equal((4, 0, 4, 0, 0), (report.Examined, report.Changed, report.Unchanged, report.WithoutAnswers, report.Failed));
        Assert.Equal(4, (await host.OutboxAsync()).Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AResultAnOlderTranslationStoredIsCorrectedOnceFromTheStoredAnswers(bool documentedOnly)
    {
        await CompleteAsync(documentedOnly);
        var before = await RecordAsync(converted);
        await StoreOlderResultAsync(converted, "ERLICH.BACHMAN@BACHMANITY.COM ");
        await StoreOlderResultAsync(enriched, "pat.enriched@acme.com");

        var report = await RunAsync();

        Assert.Equal((4, 2, 2, 0), (report.Examined, report.Changed, report.Unchanged, report.Failed));
        var fixedLead = await PublishedAsync(report.Corrections.Single(c => c.RequestId == converted.RequestId));
        Assert.Equal(["erlich.bachman@bachmanity.com"], fixedLead.Emails);
        Assert.Equal((2, EnrichmentCompleted.EventIdFor(converted.RequestId)), (fixedLead.Revision, fixedLead.Supersedes));
        Assert.Contains(fixedLead.Contacts, c => c is { Field: EnrichmentField.Email, Value: "erlich.bachman@bachmanity.com", Provider: ProviderName.Woodpecker });
        Assert.Equal(["Pat.Enriched@Acme.com"], (await PublishedAsync(report.Corrections.Single(c => c.RequestId == enriched.RequestId))).Emails);
        Assert.Equal(before.CreditsCharged, (await RecordAsync(converted)).CreditsCharged);

        var again = await RunAsync();
        Assert.Equal((0, 4), (again.Changed, again.Unchanged));
        Assert.Equal(6, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task AJobWhoseStatusAnswersNoLongerParseFailsOnlyItsOwnRequests()
    {
        await CompleteAsync(documentedOnly: false);
        await StoreOlderResultAsync(converted, "ERLICH.BACHMAN@BACHMANITY.COM ");
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            var job = (await db.Attempts.SingleAsync(a => a.RequestId == enriched.RequestId)).JobId;
            var queries = await db.ProviderAnswerLinks.Where(l => l.JobId == job && l.Answer!.Endpoint == WoodpeckerAnswerTranslation.StatusQuery)
                .Select(l => l.Answer!).ToListAsync();
            Assert.NotEmpty(queries);
            foreach (var query in queries)
                query.Body = "{ this is not json";
            return await db.SaveChangesAsync();
        });

        var report = await RunAsync();

        Assert.Equal((4, 1, 2), (report.Examined, report.Changed, report.Failed));
        Assert.Equal(converted.RequestId, Assert.Single(report.Corrections).RequestId);
        Assert.Equal(new[] { enriched.RequestId, plain.RequestId }.Order(), report.Failures.Select(f => f.RequestId).Order());
        Assert.All(report.Failures, f => Assert.Contains("cannot be translated again", f.Reason));
    }

    [Fact]
    public async Task ARequestWhoseStateIsGoneIsCountedWithoutAnswersWithTheReason()
    {
        await CompleteAsync(documentedOnly: false);
        await StoreOlderResultAsync(converted, "ERLICH.BACHMAN@BACHMANITY.COM ");
        // As a waterfall's next step leaves it: the request no longer points at its Woodpecker job.
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            (await db.Requests.SingleAsync(r => r.RequestId == converted.RequestId)).ProviderJobId = null;
            return await db.SaveChangesAsync();
        });

        var report = await RunAsync();

        Assert.Equal((0, 1, 3), (report.Changed, report.WithoutAnswers, report.Unchanged));
        Assert.Equal(1, report.WithoutAnswersWhy[WoodpeckerAnswerTranslation.StateGone]);
    }

    [Fact]
    public void AResultFromAnotherBatchACutBodyAndALaterAnswerDecideNothing()
    {
        var translation = new WoodpeckerAnswerTranslation();
        var at = start.AddMinutes(1);
        var processed = $$"""{"lead_enrichments":[{"uuid":"b-1","leads":[{"uid":"uid-found","status":"PROCESSED","processing_result":"NOT_CONVERTED_TO_PROSPECT"}]}]}""";
        StoredLead Lead(string? state = null) => new(new OpenLead(converted.RequestId, converted, state, start), at, WoodpeckerLeads.LeadsLane);

        Assert.Equal(Outcome.NotFound, translation.Translate([new(WoodpeckerAnswerTranslation.BatchList, 200, processed, at)], [Lead()], "b-1")
            .Results[converted.RequestId].Outcome);
        Assert.Empty(translation.Translate([new(WoodpeckerAnswerTranslation.BatchList, 200, processed, at.AddSeconds(1))], [Lead()], "b-1").Results);
        Assert.Empty(translation.Translate([new(WoodpeckerAnswerTranslation.BatchList, 200, processed, at)], [Lead()], "b-2").Results);
        // As the answer log keeps a body longer than it keeps: its start, and the mark (this one happens to read whole).
        var cut = processed.PadLeft(ProviderAnswers.MaxBodyChars) + $"… [cut at {ProviderAnswers.MaxBodyChars} of {ProviderAnswers.MaxBodyChars + 10} characters]";
        Assert.True(ProviderAnswers.WasCut(cut));
        Assert.Empty(translation.Translate([new(WoodpeckerAnswerTranslation.BatchList, 200, cut, at)], [Lead()], "b-1").Results);
        var followed = translation.Translate([new(WoodpeckerAnswerTranslation.BatchList, 200, processed, at)], [Lead("""{"batch":"b-0"}""")], "b-1");
        Assert.Empty(followed.Results);
        Assert.Equal(WoodpeckerAnswerTranslation.FromAnotherBatch, followed.NotReplayed[converted.RequestId]);
    }

    Task<RenormalizeReport> RunAsync() => host.InScopeAsync(sp =>
        sp.GetRequiredService<Renormalization>().RunAsync(new RenormalizeRange(start, start.AddDays(1), null, 100), CancellationToken.None));

    /// <summary>The request's result and its attempt's as an older translation would have stored them: another spelling of the email.</summary>
    Task StoreOlderResultAsync(EnrichmentRequested request, string email) => host.InScopeAsync(async sp =>
    {
        var db = sp.GetRequiredService<RelayDbContext>();
        var stored = JsonSerializer.Serialize(new[] { email });
        (await db.Requests.SingleAsync(r => r.RequestId == request.RequestId)).EmailsJson = stored;
        (await db.Attempts.SingleAsync(a => a.RequestId == request.RequestId)).EmailsJson = stored;
        return await db.SaveChangesAsync();
    });

    async Task<EnrichmentCompleted> PublishedAsync(RenormalizeCorrection correction) =>
        JsonSerializer.Deserialize<EnrichmentCompleted>(Assert.Single(await host.OutboxAsync(), o => o.MessageId == correction.EventId).Body, RelayJson.Options)!;

    async Task SubmitAsync(string lane, params EnrichmentRequested[] requests)
    {
        foreach (var request in requests)
            await host.ReceiveAsync(request);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(lane, CancellationToken.None);
    }

    async Task<EnrichmentRequestRecord> RecordAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);

    static List<string> Emails(EnrichmentRequestRecord record) => LedgerViews.ReadList(record.EmailsJson).ToList();

    static EnrichmentRequested LeadRequest(string uid, string last) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead
        {
            WoodpeckerLead = JsonDocument.Parse($$"""{"uid":"{{uid}}","full_name":"Erlich {{last}}","first_name":"Erlich","last_name":"{{last}}","linkedin_url":"linkedin.com/in/erlich-{{last.ToLowerInvariant()}}-404xyz","company_name":"Bachmanity","company_website":"bachmanity.com"}""").RootElement.Clone(),
        },
        Fields = [EnrichmentField.Email],
    };

    static EnrichmentRequested ProspectRequest(string email) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { Email = email, FirstName = "Pat" },
        Fields = [EnrichmentField.Email],
        Providers = [ProviderName.Woodpecker],
    };
}
