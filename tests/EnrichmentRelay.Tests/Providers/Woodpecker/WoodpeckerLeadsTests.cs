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
        new(Guid.NewGuid(), Request("uid-2")),
    ];

    [Theory]
    [InlineData("linkedin.com/in/erlich-bachman-404xyz", "linkedin.com/in/erlich-bachman-404xyz")]
    [InlineData("https://www.linkedin.com/in/Erlich-Bachman-404xyz/", "linkedin.com/in/erlich-bachman-404xyz")]
    [InlineData("http://linkedin.com/in/erlich-bachman-404xyz?trk=x", "linkedin.com/in/erlich-bachman-404xyz")]
    public void LinkedInUrlsCompareAsPeopleWriteThem(string url, string normalized) =>
        Assert.Equal(normalized, WoodpeckerLeads.NormalizeLinkedIn(url));

    [Theory]
    [InlineData("""{"uuid":"b-1","leads_count":2,"status":"ENQUEUED"}""", SubmitStatus.Accepted, null)]
    [InlineData("""{"uuid":"b-1","leads_count":1,"status":"PARTIALLY_ENQUEUED"}""", SubmitStatus.Accepted, null)]
    [InlineData("""{"uuid":null,"leads_count":0,"status":"NOT_ENQUEUED"}""", SubmitStatus.Refused, Outcome.Rejected)]
    [InlineData("""{"uuid":null,"leads_count":0,"status":"CREDITS_EXHAUSTED"}""", SubmitStatus.Refused, Outcome.InsufficientCredits)]
    [InlineData("""{"uuid":"b-1","leads_count":1,"status":"CREDITS_EXHAUSTED"}""", SubmitStatus.Accepted, null)]
    public async Task QueueAnswersMapToSubmitResults(string body, SubmitStatus status, Outcome? everyLead)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

        var result = await WoodpeckerLeads.ReadQueueAnswerAsync(response, Leads, CancellationToken.None);

        Assert.Equal(status, result.Status);
        if (everyLead is { } outcome)
            Assert.All(Leads, l => Assert.Equal(outcome, result.CompletedLeads[l.RequestId].Outcome));
        else
            Assert.Equal("b-1", result.ExternalJobId);
    }

    [Fact]
    public async Task ErrorBodiesSurfaceInTheDetail()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.BadRequest)
        {
            Content = new StringContent("""{"title":"Bad Request","status":400,"details":"leads: size must be between 1 and 50","timestamp":"2026-11-23T10:00:00Z","extra":null}"""),
        };

        var result = await WoodpeckerLeads.ReadQueueAnswerAsync(response, Leads, CancellationToken.None);

        Assert.Equal(SubmitStatus.Refused, result.Status);
        var completion = result.CompletedLeads[Leads[0].RequestId];
        Assert.Equal(Outcome.Rejected, completion.Outcome);
        Assert.Contains("Bad Request: leads: size must be between 1 and 50", completion.Detail);
    }

    [Fact]
    public void LeadsLeftOutOfABatchAreRejectedOrShortOfCreditsByTheSubmitAnswer()
    {
        var job = new ProviderJobRecord { Lane = WoodpeckerLeads.LeadsLane, SubmitAnswer = "PARTIALLY_ENQUEUED" };
        Assert.Equal(Outcome.Rejected, WoodpeckerLeads.LeftOut(job).Outcome);

        job.SubmitAnswer = "CREDITS_EXHAUSTED";
        Assert.Equal(Outcome.InsufficientCredits, WoodpeckerLeads.LeftOut(job).Outcome);
    }

    [Fact]
    public void OnlyEmailRequestsWithAUidCanGoToLeadEnrichment()
    {
        Assert.Equal("uid-1", WoodpeckerLeads.UidOf(Request("uid-1")));
        Assert.Null(WoodpeckerLeads.UidOf(Request("")));
        Assert.Null(WoodpeckerLeads.EmailOnlyProblem(Request("uid-1")));
        Assert.NotNull(WoodpeckerLeads.EmailOnlyProblem(Request("uid-1") with { Fields = [EnrichmentField.Phone] }));
    }

    static EnrichmentRequested Request(string uid) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { WoodpeckerLead = JsonDocument.Parse($$"""{"uid":"{{uid}}","full_name":"Erlich Bachman"}""").RootElement.Clone() },
        Fields = [EnrichmentField.Email],
    };
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
        var lead = Lead("""{"uid":"u","first_name":"Jane","last_name":"Doe","linkedin_url":"linkedin.com/in/jane-doe-2","company_name":"Acme","company_website":"acme.com"}""");
        WoodpeckerProspect[] candidates =
        [
            Prospect("jane@acme.com", "Jane", "Doe", "Acme", "acme.com", "https://www.linkedin.com/in/jane-doe-1"),
            Prospect("jane.doe@acme.com", "Jane", "Doe", "Acme", "acme.com", "https://www.linkedin.com/in/jane-doe-2/"),
        ];

        Assert.Equal("jane.doe@acme.com", WoodpeckerPoller.Match(lead, candidates)!.Email);
    }

    [Fact]
    public void WithoutLinkedInTheNameMustComeWithTheCompanyOrWebsite()
    {
        var lead = Lead("""{"uid":"u","full_name":"Jane Doe","company_website":"https://www.acme.com/"}""");

        Assert.Equal("j@acme.com", WoodpeckerPoller.Match(lead, [Prospect("j@acme.com", "jane", "doe", "", "acme.com", null)])!.Email);
        Assert.Null(WoodpeckerPoller.Match(lead, [Prospect("j@other.com", "Jane", "Doe", "Other", "other.com", null)]));
    }
}
