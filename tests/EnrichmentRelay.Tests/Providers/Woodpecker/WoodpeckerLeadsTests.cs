using System.Net;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;

namespace EnrichmentRelay.Tests.Providers.Woodpecker;

public sealed class WoodpeckerLeadsTests
{
    static readonly IReadOnlyList<PendingLead> Leads =
    [
        new(Guid.NewGuid(), Request("uid-1")),
        new(Guid.NewGuid(), Request("uid-2") with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] }),
    ];

    [Theory]
    [InlineData("""{"uuid":"b-1","leads_count":2,"status":"ENQUEUED"}""", SubmitStatus.Accepted, "b-1", null)]
    [InlineData("""{"uuid":"b-1","leads_count":1,"status":"PARTIALLY_ENQUEUED"}""", SubmitStatus.Accepted, "b-1", null)]
    [InlineData("""{"uuid":"b-1","leads_count":1,"status":"CREDITS_EXHAUSTED"}""", SubmitStatus.Accepted, "b-1", null)]
    // Already pending at Woodpecker: not refused; the poller follows the batches that hold them.
    [InlineData("""{"uuid":null,"leads_count":0,"status":"NOT_ENQUEUED"}""", SubmitStatus.Accepted, null, null)]
    [InlineData("""{"uuid":null,"leads_count":0,"status":"CREDITS_EXHAUSTED"}""", SubmitStatus.Refused, null, Outcome.InsufficientCredits)]
    [InlineData("""{"leads_count":0,"status":"CREDITS_EXHAUSTED"}""", SubmitStatus.Refused, null, Outcome.InsufficientCredits)]
    [InlineData("""{"uuid":"","leads_count":0,"status":"SOMETHING_NEW"}""", SubmitStatus.Refused, null, Outcome.Failed)]
    [InlineData("""{"uuid":"b-1","leads_count":2,"status":"SOMETHING_NEW"}""", SubmitStatus.Accepted, "b-1", null)]
    public async Task QueueAnswersMapToSubmitResults(string body, SubmitStatus status, string? batch, Outcome? everyLead)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

        var result = await WoodpeckerLeads.ReadQueueAnswerAsync(response, Leads, CancellationToken.None);

        Assert.Equal(status, result.Status);
        Assert.Equal(batch, result.ExternalJobId);
        Assert.Equal(JsonDocument.Parse(body).RootElement.GetProperty("status").GetString(), result.ProviderStatus);
        if (everyLead is { } outcome)
            Assert.All(Leads, l =>
            {
                Assert.Equal(outcome, result.CompletedLeads[l.RequestId].Outcome);
                Assert.Equal(0m, result.CompletedLeads[l.RequestId].CreditsCharged); // Woodpecker charges only for an email found
            });
        else
            Assert.Empty(result.CompletedLeads);
    }

    [Fact]
    public async Task ErrorBodiesSurfaceInTheDetailAndPhoneIsSaidNotLookedUp()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.BadRequest)
        {
            Content = new StringContent("""{"title":"Bad Request","status":400,"details":"leads: size must be between 1 and 50","timestamp":"2026-11-23T10:00:00Z","extra":null}"""),
        };

        var result = await WoodpeckerLeads.ReadQueueAnswerAsync(response, Leads, CancellationToken.None);

        Assert.Equal(SubmitStatus.Refused, result.Status);
        var emailOnly = result.CompletedLeads[Leads[0].RequestId];
        Assert.Equal(Outcome.Rejected, emailOnly.Outcome);
        Assert.Contains("Bad Request: leads: size must be between 1 and 50", emailOnly.Detail);
        Assert.DoesNotContain("Phone", emailOnly.Detail);
        Assert.EndsWith(WoodpeckerLeads.PhoneNotLookedUp, result.CompletedLeads[Leads[1].RequestId].Detail);
    }

    [Theory]
    [InlineData("""{"title":"Too Many Requests","status":400,"details":"Too many simultaneous requests.","timestamp":"2026-11-23 10:00:00","extra":null}""")]
    [InlineData("""{"status":{"status":"ERROR","code":"E_TOO_MANY_REQUESTS","msg":"Too many simultaneous requests"}}""")]
    public async Task A400ThatSaysTooManyRequestsRefusesNoLead(string body)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new StringContent(body) };

        var result = await WoodpeckerLeads.ReadQueueAnswerAsync(response, Leads, CancellationToken.None);

        Assert.Equal(SubmitStatus.NotSent, result.Status);
        Assert.Empty(result.CompletedLeads);
    }

    [Fact]
    public void OnlyRequestsForEmailCanGoToWoodpecker()
    {
        Assert.Equal("uid-1", WoodpeckerLeads.UidOf(Request("uid-1")));
        Assert.Null(WoodpeckerLeads.UidOf(Request("")));
        Assert.Null(WoodpeckerLeads.EmailOnlyProblem(Request("uid-1")));
        Assert.Null(WoodpeckerLeads.EmailOnlyProblem(Request("uid-1") with { Fields = [EnrichmentField.Phone, EnrichmentField.Email] }));
        Assert.Contains("finds emails only", WoodpeckerLeads.EmailOnlyProblem(Request("uid-1") with { Fields = [EnrichmentField.Phone] }));
    }

    [Fact]
    public void ARequestAlsoForPhoneIsToldPhoneWasNotLookedUp()
    {
        var found = new CompletionResult(Outcome.Found, ["a@b.com"], CreditsCharged: 1.5m);

        Assert.Null(WoodpeckerLeads.ForRequest(Request("u"), found).Detail);
        var both = WoodpeckerLeads.ForRequest(Request("u") with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] }, found);
        Assert.Equal(WoodpeckerLeads.PhoneNotLookedUp, both.Detail);
        Assert.Equal(found.Emails, both.Emails);
        var notFound = WoodpeckerLeads.ForRequest(Request("u") with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] },
            WoodpeckerOutcomes.NotConverted(null));
        Assert.StartsWith("Woodpecker found no email", notFound.Detail);
        Assert.EndsWith(WoodpeckerLeads.PhoneNotLookedUp, notFound.Detail);
    }

    public static TheoryData<string, string> BadPayloads => new()
    {
        { "[]", "lead.woodpeckerLead" },
        { "\"uid-1\"", "lead.woodpeckerLead" },
        { """{"full_name":"Jane Doe"}""", "lead.woodpeckerLead.uid" },
        { """{"uid":"  "}""", "lead.woodpeckerLead.uid" },
        { """{"uid":42}""", "lead.woodpeckerLead.uid" },
        { """{"uid":"u","first_name":7}""", "lead.woodpeckerLead.first_name" },
        { """{"uid":"u","linkedin_url":{"url":"x"}}""", "lead.woodpeckerLead.linkedin_url" },
        { """{"uid":"u","job_title_levels":"Cxo"}""", "lead.woodpeckerLead.job_title_levels" },
        { """{"uid":"u","job_title_levels":["Cxo",3]}""", "lead.woodpeckerLead.job_title_levels" },
    };

    [Theory]
    [MemberData(nameof(BadPayloads))]
    public void PayloadsAreCheckedAgainstTheQueuePagesBodySchema(string payload, string field)
    {
        var problems = WoodpeckerLeads.PayloadProblems(JsonDocument.Parse(payload).RootElement).ToList();

        var (named, problem) = Assert.Single(problems);
        Assert.Equal(field, named);
        Assert.Contains($"'{field}", problem);
    }

    [Fact]
    public void APayloadAsTheSearchReturnsItPassesWithItsExtraFields()
    {
        var payload = JsonDocument.Parse("""
            {"uid":"0SVOUN5zYlkzJ5fMrBxUdiQ_0000","full_name":"Erlich Bachman","first_name":"Erlich","last_name":"Bachman","gender":null,
             "linkedin_url":"linkedin.com/in/erlich-bachman-404xyz","company_name":"Bachmanity","company_website":"bachmanity.com",
             "industry":"Software as a Service","job_title":"Ceo","job_title_role":"Operations","job_title_levels":["Cxo"],
             "location_name":"Palo Alto, California, United States","city":"Palo Alto","state":"California","country":"United States",
             "score":0.93,"tags":["a"]}
            """).RootElement;

        Assert.Empty(WoodpeckerLeads.PayloadProblems(payload));

        var sent = WoodpeckerLeads.LeadPayload(new EnrichmentRequested { Lead = new Lead { WoodpeckerLead = payload } }).AsObject();
        // A null the schema types as a string is left out; what Woodpecker does not document goes as it came.
        Assert.False(sent.ContainsKey("gender"));
        Assert.Equal("linkedin.com/in/erlich-bachman-404xyz", (string?)sent["linkedin_url"]);
        Assert.Equal(0.93, (double)sent["score"]!);
        Assert.Equal("a", (string?)sent["tags"]![0]);
    }

    static EnrichmentRequested Request(string uid) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { WoodpeckerLead = JsonDocument.Parse($$"""{"uid":"{{uid}}","full_name":"Erlich Bachman"}""").RootElement.Clone() },
        Fields = [EnrichmentField.Email],
    };
}

/// <summary>The translation rules: each Woodpecker situation, the outcome, the credits, and what the detail says.</summary>
public sealed class WoodpeckerOutcomesTests
{
    static readonly WoodpeckerOutcomes.Followed Theirs = new("b-other", WoodpeckerStatus.NotEnqueued, ChargedElsewhere: false);
    static readonly WoodpeckerOutcomes.Followed Ours = new("b-ours", WoodpeckerStatus.NotEnqueued, ChargedElsewhere: true);

    [Fact]
    public void LeadsLeftOutForCreditsAreShortOfCreditsNotRejected()
    {
        var partial = WoodpeckerOutcomes.LeftOutForCredits(WoodpeckerStatus.PartiallyEnqueued);
        Assert.Equal(Outcome.InsufficientCredits, partial.Outcome);
        Assert.Equal(0m, partial.CreditsCharged);
        Assert.Contains("PARTIALLY_ENQUEUED", partial.Detail);
        Assert.Contains("does not say which", partial.Detail);

        var exhausted = WoodpeckerOutcomes.LeftOutForCredits(WoodpeckerStatus.CreditsExhausted);
        Assert.Equal(Outcome.InsufficientCredits, exhausted.Outcome);
        Assert.Contains("CREDITS_EXHAUSTED", exhausted.Detail);

        Assert.True(WoodpeckerStatus.LeftOutForCredits(WoodpeckerStatus.PartiallyEnqueued));
        Assert.True(WoodpeckerStatus.LeftOutForCredits(WoodpeckerStatus.CreditsExhausted));
        Assert.False(WoodpeckerStatus.LeftOutForCredits(WoodpeckerStatus.Enqueued));
        Assert.False(WoodpeckerStatus.LeftOutForCredits(WoodpeckerStatus.NotEnqueued));
    }

    [Fact]
    public void APendingLeadWhoseBatchIsNeverFoundFailsAndIsNeverRejected()
    {
        var notEnqueued = WoodpeckerOutcomes.PendingBatchNotFound(WoodpeckerStatus.NotEnqueued, null, TimeSpan.FromDays(2), TimeSpan.FromMinutes(5));
        Assert.Equal(Outcome.Failed, notEnqueued.Outcome);
        Assert.Equal(0m, notEnqueued.CreditsCharged);
        Assert.Contains("NOT_ENQUEUED", notEnqueued.Detail);
        Assert.Contains("2 days", notEnqueued.Detail);
        Assert.Contains("5 min", notEnqueued.Detail);

        var enqueued = WoodpeckerOutcomes.PendingBatchNotFound(WoodpeckerStatus.Enqueued, "b-1", TimeSpan.FromDays(2), TimeSpan.FromMinutes(5));
        Assert.Equal(Outcome.Failed, enqueued.Outcome);
        Assert.Contains("batch b-1 does not hold this lead", enqueued.Detail);
    }

    [Fact]
    public void AConvertedLeadCostsOnePointFiveWhetherItsProspectIsMatchedOrNot()
    {
        var found = WoodpeckerOutcomes.ConvertedFound("jane@acme.com", null);
        Assert.Equal(Outcome.Found, found.Outcome);
        Assert.Equal(["jane@acme.com"], found.Emails);
        Assert.Equal(1.5m, found.CreditsCharged);
        Assert.Null(found.Detail);

        var unmatched = WoodpeckerOutcomes.ConvertedUnmatched(TimeSpan.FromHours(1), null);
        Assert.Equal(Outcome.Failed, unmatched.Outcome);
        Assert.Equal(1.5m, unmatched.CreditsCharged);
        Assert.Contains("could not be matched", unmatched.Detail);
        Assert.Contains("1 h", unmatched.Detail);
    }

    [Fact]
    public void AFollowedBatchIsNamedAndItsChargeCountedOnlyWhereItWasSubmitted()
    {
        var theirs = WoodpeckerOutcomes.ConvertedFound("jane@acme.com", Theirs);
        Assert.Equal(1.5m, theirs.CreditsCharged);
        Assert.Contains("b-other", theirs.Detail);
        Assert.Contains("NOT_ENQUEUED", theirs.Detail);

        var ours = WoodpeckerOutcomes.ConvertedFound("jane@acme.com", Ours);
        Assert.Equal(0m, ours.CreditsCharged);
        Assert.Contains("counted on the request that batch was submitted for", ours.Detail);
        Assert.Equal(0m, WoodpeckerOutcomes.ConvertedUnmatched(TimeSpan.FromHours(1), Ours).CreditsCharged);
        Assert.Equal(Outcome.NotFound, WoodpeckerOutcomes.NotConverted(Theirs).Outcome);
        Assert.Contains("b-other", WoodpeckerOutcomes.NotConverted(Theirs).Detail);
    }

    [Fact]
    public void UnknownResultsAndStatusesAreFailuresWithUnknownCost()
    {
        var lead = WoodpeckerOutcomes.UnknownResult("ENRICHMENT_FAILED", null);
        Assert.Equal(Outcome.Failed, lead.Outcome);
        Assert.Null(lead.CreditsCharged);
        Assert.Contains("'ENRICHMENT_FAILED'", lead.Detail);

        var prospect = WoodpeckerOutcomes.ProspectUnknownStatus("PROCESSED_PROSPECT_NOT_FOUND", null);
        Assert.Equal(Outcome.Failed, prospect.Outcome);
        Assert.Null(prospect.CreditsCharged);
        Assert.Contains("'PROCESSED_PROSPECT_NOT_FOUND'", prospect.Detail);
    }

    [Fact]
    public void AnEnrichedProspectIsFoundOnlyFromItsRecord()
    {
        var enriched = WoodpeckerOutcomes.ProspectEnriched("Pat@Acme.com", null);
        Assert.Equal(Outcome.Found, enriched.Outcome);
        Assert.Equal(["Pat@Acme.com"], enriched.Emails);
        Assert.Equal(1.5m, enriched.CreditsCharged);
        Assert.Contains("the one its prospect record holds", enriched.Detail);

        var unreadable = WoodpeckerOutcomes.ProspectUnreadable(TimeSpan.FromHours(1), null);
        Assert.Equal(Outcome.Failed, unreadable.Outcome);
        Assert.Empty(unreadable.Emails ?? []);
        Assert.Equal(1.5m, unreadable.CreditsCharged);

        var notEnriched = WoodpeckerOutcomes.ProspectNotEnriched(null);
        Assert.Equal(Outcome.NotFound, notEnriched.Outcome);
        Assert.Equal(0m, notEnriched.CreditsCharged);
    }

    [Fact]
    public void AtTheDeadlineALeadWoodpeckerChargedForFailsInsteadOfTimingOut()
    {
        var deadline = TimeSpan.FromHours(24);

        Assert.Equal(Outcome.TimedOut, WoodpeckerOutcomes.AtDeadline(new WoodpeckerRequestState(), WoodpeckerLeads.LeadsLane, deadline, null).Outcome);
        var converted = WoodpeckerOutcomes.AtDeadline(new WoodpeckerRequestState(FoundAt: DateTimeOffset.UnixEpoch), WoodpeckerLeads.LeadsLane, deadline, null);
        Assert.Equal(Outcome.Failed, converted.Outcome);
        Assert.Equal(1.5m, converted.CreditsCharged);
        var prospect = WoodpeckerOutcomes.AtDeadline(new WoodpeckerRequestState(FoundAt: DateTimeOffset.UnixEpoch), WoodpeckerLeads.ProspectsLane, deadline, null);
        Assert.Equal(Outcome.Failed, prospect.Outcome);
        Assert.Contains("PROCESSED_ENRICHED", prospect.Detail);
    }

    [Fact]
    public void TheStateIsWrittenOnlyWhenItChanges()
    {
        var record = new EnrichmentRequestRecord { RequestJson = "{}" };

        new WoodpeckerRequestState().WriteTo(record);
        Assert.Null(record.ProviderState);
        Assert.Equal(0, record.Version);

        new WoodpeckerRequestState("b-1", DateTimeOffset.UnixEpoch).WriteTo(record);
        Assert.Equal(1, record.Version);
        Assert.Equal(new WoodpeckerRequestState("b-1", DateTimeOffset.UnixEpoch), WoodpeckerRequestState.Read(record));
        new WoodpeckerRequestState("b-1", DateTimeOffset.UnixEpoch).WriteTo(record);
        Assert.Equal(1, record.Version);
    }
}

public sealed class ConvertedProspectMatchingTests
{
    static EnrichmentRequested Lead(string payload) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { WoodpeckerLead = JsonDocument.Parse(payload).RootElement.Clone() },
        Fields = [EnrichmentField.Email],
    };

    static WoodpeckerProspect Prospect(string email, string first, string last, string company, string website, string? linkedIn) =>
        new(1, email, first, last, company, website, linkedIn, DateTimeOffset.UnixEpoch);

    [Fact]
    public void LinkedInUrlWinsOverANameTwin()
    {
        var lead = ConvertedLead.Of(Lead("""{"uid":"u","first_name":"Jane","last_name":"Doe","linkedin_url":"linkedin.com/in/jane-doe-2","company_name":"Acme","company_website":"acme.com"}"""));
        WoodpeckerProspect[] candidates =
        [
            Prospect("jane@acme.com", "Jane", "Doe", "Acme", "acme.com", "https://www.linkedin.com/in/jane-doe-1"),
            Prospect("jane.doe@acme.com", "Jane", "Doe", "Acme", "acme.com", "https://www.linkedin.com/in/Jane-Doe-2/"),
        ];

        Assert.Equal("jane.doe@acme.com", lead.Match(candidates)!.Email);
    }

    [Fact]
    public void WithoutLinkedInTheNameMustComeWithTheCompanyOrWebsite()
    {
        var lead = ConvertedLead.Of(Lead("""{"uid":"u","full_name":"Jane Doe","company_website":"https://www.acme.com/"}"""));

        Assert.Equal("j@acme.com", lead.Match([Prospect("j@acme.com", "jane", "doe", "", "acme.com", null)])!.Email);
        Assert.Null(lead.Match([Prospect("j@other.com", "Jane", "Doe", "Other", "other.com", null)]));
    }

    [Fact]
    public void TheSearchUsesOnlyFieldsTheV1PageDocumentsAsSearchable()
    {
        var withCompany = ConvertedLead.Of(Lead("""{"uid":"u","first_name":"Jane","last_name":"Doe","linkedin_url":"linkedin.com/in/jane","company_name":"Acme","company_website":"acme.com"}"""));
        Assert.Equal(new Dictionary<string, string> { ["first_name"] = "Jane", ["last_name"] = "Doe", ["company"] = "Acme" }, withCompany.SearchCriteria());

        var withWebsite = ConvertedLead.Of(Lead("""{"uid":"u","full_name":"Jane Doe","company_website":"https://www.acme.com/about"}"""));
        Assert.Equal(new Dictionary<string, string> { ["first_name"] = "Jane", ["last_name"] = "Doe", ["website"] = "acme.com" }, withWebsite.SearchCriteria());

        Assert.Null(ConvertedLead.Of(Lead("""{"uid":"u","linkedin_url":"linkedin.com/in/jane"}""")).SearchCriteria());
    }
}
