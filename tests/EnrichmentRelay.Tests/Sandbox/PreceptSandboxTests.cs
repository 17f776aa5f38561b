using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox.Precept;
using Microsoft.Extensions.Time.Testing;
using static EnrichmentRelay.Tests.Sandbox.PreceptHost;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>The simulated Precept API over real HTTP: auth, validation, credits, the job lifecycle and faults.</summary>
public sealed class PreceptSandboxTests : IAsyncLifetime
{
    PreceptHost host = null!;

    PreceptSimulator Precept => host.Precept;

    public async Task InitializeAsync() => host = await StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    static readonly string OneLead = Body([Person("Jane", "Smith", "r1")]);

    [Fact]
    public void SandboxListensOnLoopbackOnAPortOfItsOwn()
    {
        Assert.Equal("127.0.0.1", host.Server.BaseAddress.Host);
        Assert.NotEqual(0, host.Server.BaseAddress.Port);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-key")]
    [InlineData("Basic " + Key)]
    public async Task EveryRouteWithoutTheRightKeyAnswers401(string? authorization)
    {
        using var http = new HttpClient { BaseAddress = host.Server.BaseAddress };
        if (authorization is not null)
            http.DefaultRequestHeaders.Authorization = AuthenticationHeaderValue.Parse(authorization);

        using var submit = await http.PostAsync("v1/leads/enrich", Json(OneLead));
        using var job = await http.GetAsync($"v1/jobs/{Guid.NewGuid()}");
        using var list = await http.GetAsync("v1/jobs?limit=abc");
        using var credits = await http.GetAsync("v1/credits");

        foreach (var response in new[] { submit, job, list, credits })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Unauthorized", (string?)(await ReadAsync(response))["error"]);
        }
        Assert.Equal(0, Precept.Counters.SubmitCalls);
    }

    public static TheoryData<string, string> InvalidBodies() => new()
    {
        { """{"name":"no leads"}""", "'leads'" },
        { """{"leads":[]}""", "'leads'" },
        { Body(Enumerable.Range(0, 1001).Select(i => Person("Jane", $"Smith{i}", $"r{i}")).ToArray()), "at most 1000" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada"},{"firstName":"Jane","lastName":"Smith"}]}""", "leads[1] needs a linkedinUrl" },
        { """{"leads":[{"firstName":"Jane","companyName":"Acme"}]}""", "leads[0] needs a linkedinUrl" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada","customData":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}}]}""", "leads[0].customData may have at most 5" },
        { $$$"""{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada","customData":{"rid":"{{{new string('x', 101)}}}"}}]}""", "leads[0].customData.rid may be at most 100" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada","customData":{"rid":7}}]}""", "leads[0].customData.rid must be a string" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada","enrichType":["emails","faxes"]}]}""", "leads[0].enrichType may only contain" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada","enrichType":"emails"}]}""", "leads[0].enrichType must be an array" },
        { """{"webhookUrl":"not a url","leads":[{"linkedinUrl":"https://linkedin.com/in/ada"}]}""", "'webhookUrl'" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada"}""", "Malformed JSON" },
        { """{"leads":[{"linkedinUrl":"https://linkedin.com/in/ada","linkedinUrl":"https://linkedin.com/in/bob"}]}""", "Malformed JSON" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidSubmitAnswers400NamingTheProblemAndCreatesNoJob(string body, string expected)
    {
        using var response = await host.PostEnrichAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (string?)(await ReadAsync(response))["error"]);
        Assert.Equal(0, Precept.Counters.JobsCreated);
        Assert.Equal(1, Precept.Counters.SubmitCalls);
    }

    [Fact]
    public async Task AThousandLeadsFitInOneJob()
    {
        var id = await host.SubmitForIdAsync(Body(Enumerable.Range(0, 1000).Select(i => Person("Jane", $"Smith{i}", $"r{i}")).ToArray()));

        var job = await host.WaitForJobStatusAsync(id, "completed");
        Assert.Equal(1000, job["results"]!.AsArray().Count);
        Assert.Equal(1000, Precept.Counters.LargestJob);
        Assert.All(Precept.Counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(11)] // above 0, but below the 12 one lead wanting email and phone may cost
    public async Task SubmitThatCannotPayForItsFirstLeadAnswers402(int credits)
    {
        Precept.Settings.Credits = credits;

        using var response = await host.PostEnrichAsync(OneLead);

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Equal("Not enough credits", (string?)(await ReadAsync(response))["error"]);
        Assert.Equal(0, Precept.Counters.JobsCreated);
        Assert.Equal(1, Precept.Counters.LeadsRejectedByCreditCap);
    }

    [Theory]
    [InlineData(null, "unprocessed")]
    [InlineData("unprocessedLeads", "unprocessedLeads")]
    public async Task CreditCappedSubmitIsAccepted202WithFinalLimitAndTheUnprocessedLeadsAsSent(string? fieldName, string expectedField)
    {
        if (fieldName is not null)
            Precept.Settings.UnprocessedFieldName = fieldName;
        Precept.Settings.Credits = 25; // two leads at 12, not three
        object[] leads = [Person("Ada", "Lovelace", "r1"), Person("Alan", "Turing", "r2"), Person("Grace", "Hopper", "r3")];

        var answer = await host.SubmitAsync(Body(leads));

        Assert.Equal(2, (int)answer["finalLimit"]!);
        var unprocessed = Assert.Single(answer[expectedField]!.AsArray());
        Assert.True(JsonNode.DeepEquals(JsonSerializer.SerializeToNode(leads[2]), unprocessed), unprocessed!.ToJsonString());
        var job = await host.WaitForJobStatusAsync((string)answer["enrichment_id"]!, "completed");
        Assert.Equal(2, (int)job["progress"]!["total"]!);
        Assert.Equal(1m, Precept.Settings.Credits);
        Assert.Equal((2, 1), (Precept.Counters.LeadsAccepted, Precept.Counters.LeadsRejectedByCreditCap));
    }

    [Fact]
    public async Task FullyAcceptedSubmitHasNoFinalLimit()
    {
        var answer = await host.SubmitAsync(OneLead);

        Assert.Equal("Enrichment job successfully created and batches are being processed.", (string?)answer["message"]);
        Assert.True(Guid.TryParse((string?)answer["enrichment_id"], out _));
        Assert.Null(answer["finalLimit"]);
        Assert.Null(answer["unprocessed"]);
    }

    [Fact]
    public async Task RunningJobsReserveTheCreditsTheyMaySpend()
    {
        Precept.Settings.Credits = 30;
        Precept.Settings.ProcessingDelay = TimeSpan.FromMinutes(10);
        await host.SubmitAsync(Body([Person("Ada", "Lovelace", "r1")])); // reserves 12 of 30

        var second = await host.SubmitAsync(Body([Person("Alan", "Turing", "r2"), Person("Grace", "Hopper", "r3")]));
        using var credits = await host.Http.GetAsync("v1/credits");

        Assert.Equal(1, (int)second["finalLimit"]!);
        Assert.Equal(6m, (decimal)(await ReadAsync(credits))["credits"]!);
    }

    [Fact]
    public async Task JobEndsWithEachLeadsOutcomeAndChargesOnlyWhatWasFound()
    {
        Precept.SetOutcome("Lovelace", LeadOutcome.EmailOnly);
        Precept.SetOutcome("TURING", LeadOutcome.PhoneOnly); // last names match case-insensitively
        Precept.SetOutcome("Dijkstra", LeadOutcome.NoContact);
        Precept.SetOutcome("Liskov", LeadOutcome.NotFound);
        Precept.SetOutcome("Thompson", LeadOutcome.Skipped);
        var id = await host.SubmitForIdAsync(Body(
        [
            Person("Grace", "Hopper", "hopper", domain: "https://www.Navy.mil/"), // Found (the default): 1 + 1 + 10
            Person("Ada", "Lovelace", "lovelace"),                                  // 1 + 1
            Person("Alan", "Turing", "turing"),                                     // 1 + 10
            Person("Edsger", "Dijkstra", "dijkstra"),                               // 1
            Person("Barbara", "Liskov", "liskov"),                                  // 1
            Person("Ken", "Thompson", "thompson"),                                  // skipped: nothing
            new { firstName = "Jane", lastName = "Smith", companyName = "Precept AI", enrichType = new[] { "emails" }, customData = new { rid = "smith" } }, // 1 + 1
        ]));

        var job = await host.WaitForJobStatusAsync(id, "completed");

        var results = job["results"]!.AsArray().ToDictionary(r => (string)r!["custom_data"]!["rid"]!, r => r!);
        Assert.Equal(["dijkstra", "hopper", "liskov", "lovelace", "smith", "turing"], results.Keys.Order());
        Assert.Equal("grace.hopper@navy.mil", (string?)results["hopper"]["enrich_email"]);
        Assert.Matches(@"^\+1555\d{7}$", (string?)results["hopper"]["enrich_phone"]);
        Assert.Equal(("ada.lovelace@acme.com", null), ((string?)results["lovelace"]["enrich_email"], (string?)results["lovelace"]["enrich_phone"]));
        Assert.Null((string?)results["turing"]["enrich_email"]);
        Assert.NotNull((string?)results["turing"]["enrich_phone"]);
        Assert.Equal((null, null, null), ((string?)results["dijkstra"]["enrich_email"], (string?)results["dijkstra"]["enrich_phone"], (string?)results["dijkstra"]["error"]));
        Assert.Equal("Lead not found", (string?)results["liskov"]["error"]);
        Assert.Null((string?)results["liskov"]["enrich_email"]);
        Assert.Equal(("jane.smith@preceptai.example", null), ((string?)results["smith"]["enrich_email"], (string?)results["smith"]["enrich_phone"]));
        Assert.Equal(("Jane", "Smith", "Precept AI", null), ((string?)results["smith"]["first_name"], (string?)results["smith"]["last_name"],
            (string?)results["smith"]["company_name"], (string?)results["smith"]["linkedin_url"]));

        Assert.Equal((7, 7, 1), ((int)job["progress"]!["completed"]!, (int)job["progress"]!["total"]!, (int)job["progress"]!["skipped"]!));
        Assert.Equal(29m, (decimal)job["cost"]!["credits"]!);
        Assert.Equal((3, 2), ((int)job["emails_found"]!, (int)job["phones_found"]!));
        Assert.Equal(29m, Precept.Counters.CreditsCharged);
        using var credits = await host.Http.GetAsync("v1/credits");
        Assert.Equal(1_000_000m - 29, (decimal)(await ReadAsync(credits))["credits"]!);
    }

    [Fact]
    public async Task LinkedInOnlyLeadGetsAStableContactDerivedFromTheProfile()
    {
        const string url = "https://www.linkedin.com/in/john-doe-1a2b3c/";
        var lead = new { linkedinUrl = url, customData = new { rid = "r1" } };

        var first = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(Body([lead])), "completed");
        var second = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(Body([lead])), "completed");

        var item = first["results"]![0]!;
        Assert.Equal(url, (string?)item["linkedin_url"]);
        Assert.Equal("john.doe@linkedin.example", (string?)item["enrich_email"]);
        Assert.Equal((string?)item["enrich_phone"], (string?)second["results"]![0]!["enrich_phone"]);
        Assert.Equal(2, Precept.Counters.LeadSubmissions[url]); // the same lead, submitted twice, shows
    }

    [Fact]
    public async Task OutcomeSetForALinkedInUrlAppliesToThatLead()
    {
        Precept.SetOutcome("https://linkedin.com/in/ada", LeadOutcome.NotFound);

        var job = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(Body(
            [new { linkedinUrl = "https://linkedin.com/in/ada" }, new { linkedinUrl = "https://linkedin.com/in/bob" }])), "completed");

        Assert.Equal("Lead not found", (string?)job["results"]![0]!["error"]);
        Assert.Null(job["results"]![1]!["error"]);
    }

    [Fact]
    public async Task CamelNamingRenamesTheContactAndCustomDataFields()
    {
        Precept.Settings.ContactFieldNaming = ContactFieldNaming.Camel;

        var job = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(OneLead), "completed");

        var item = job["results"]![0]!.AsObject();
        Assert.Equal("jane.smith@acme.com", (string?)item["enrichEmail"]);
        Assert.NotNull((string?)item["enrichPhone"]);
        Assert.Equal("r1", (string?)item["customData"]!["rid"]);
        Assert.False(item.ContainsKey("enrich_email") || item.ContainsKey("enrich_phone") || item.ContainsKey("custom_data"));
    }

    [Fact]
    public async Task SnakeNamingIsTheDefault()
    {
        var job = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(OneLead), "completed");

        var item = job["results"]![0]!.AsObject();
        Assert.Equal(["linkedin_url", "first_name", "last_name", "company_name", "company_domain", "enrich_email", "enrich_phone", "custom_data"],
            item.Select(p => p.Key));
    }

    [Fact]
    public async Task JobGoesFromPendingThroughProcessingToCompletedOnTheInjectedClock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        await using var faked = await StartAsync(clock);
        faked.Precept.Settings.ProcessingDelay = TimeSpan.FromMinutes(10); // one lead: done at 5 min, job at 10
        var id = await faked.SubmitForIdAsync(OneLead);

        var pending = await faked.GetJobAsync(id);
        Assert.Equal("pending", (string?)pending["status"]);
        Assert.Null(pending["results"]);
        Assert.Equal(0, (int)pending["progress"]!["completed"]!);
        Assert.Equal("2026-11-23T09:00:00.0000000+00:00", (string?)pending["created_at"]);

        clock.Advance(TimeSpan.FromMinutes(5));
        var processing = await faked.WaitForJobStatusAsync(id, "processing");
        Assert.Equal(1, (int)processing["progress"]!["completed"]!);
        Assert.Null(processing["results"]);

        clock.Advance(TimeSpan.FromMinutes(5));
        var completed = await faked.WaitForJobStatusAsync(id, "completed");
        Assert.Single(completed["results"]!.AsArray());
    }

    [Fact]
    public async Task FailedJobEndsFailedWithNoResultsAndNoCharge()
    {
        Precept.FailNextJobs(1);

        var failed = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(OneLead), "failed");
        var next = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(OneLead), "completed");

        Assert.Empty(failed["results"]!.AsArray());
        Assert.Equal(0m, (decimal)failed["cost"]!["credits"]!);
        Assert.Single(next["results"]!.AsArray());
        Assert.Equal(12m, Precept.Counters.CreditsCharged);
    }

    [Fact]
    public async Task InjectedSubmitFailureAnswersItsStatusAndCreatesNoJob()
    {
        Precept.FailNextSubmits(1, 503);

        using var failed = await host.PostEnrichAsync(OneLead);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal("Internal error", (string?)(await ReadAsync(failed))["error"]);
        Assert.Equal(0, Precept.Counters.JobsCreated);

        await host.SubmitAsync(OneLead);
        Assert.Equal((2, 1), (Precept.Counters.SubmitCalls, Precept.Counters.JobsCreated));
    }

    [Fact]
    public async Task DroppedConnectionAfterAcceptStillCreatesAndChargesTheJob()
    {
        Precept.DropConnectionAfterAcceptNext(1);

        await Assert.ThrowsAsync<HttpRequestException>(() => host.PostEnrichAsync(OneLead));

        var job = Assert.Single(Precept.Jobs);
        await host.WaitForJobStatusAsync(job.EnrichmentId, "completed");
        Assert.Equal(12m, Precept.Counters.CreditsCharged);
        await host.SubmitAsync(OneLead); // only the next one was dropped
    }

    [Fact]
    public async Task JobListIsNewestFirstAndFiltersByExactName()
    {
        var first = await host.SubmitForIdAsync(Body([Person("Ada", "Lovelace", "r1")], name: "batch-a"));
        await host.SubmitForIdAsync(Body([Person("Alan", "Turing", "r2")], name: "batch-b"));
        var third = await host.SubmitForIdAsync(Body([Person("Grace", "Hopper", "r3")], name: "batch-a"));

        using var named = await host.Http.GetAsync("v1/jobs?name=batch-a");
        using var limited = await host.Http.GetAsync("v1/jobs?limit=1");
        using var prefix = await host.Http.GetAsync("v1/jobs?name=batch");

        var jobs = (await ReadAsync(named))["jobs"]!.AsArray();
        Assert.Equal([third, first], jobs.Select(j => (string)j!["enrichment_id"]!));
        Assert.All(jobs, j => Assert.Equal("batch-a", (string?)j!["name"]));
        Assert.NotNull((string?)jobs[0]!["status"]);
        Assert.NotNull((string?)jobs[0]!["created_at"]);
        Assert.Equal([third], (await ReadAsync(limited))["jobs"]!.AsArray().Select(j => (string)j!["enrichment_id"]!));
        Assert.Empty((await ReadAsync(prefix))["jobs"]!.AsArray());
        Assert.Equal(3, Precept.Counters.JobListCalls);
    }

    [Fact]
    public async Task UnknownJobAnswers404()
    {
        using var response = await host.Http.GetAsync($"v1/jobs/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("Job not found", (string?)(await ReadAsync(response))["error"]);
        Assert.Equal(1, Precept.Counters.JobStatusCalls);
    }
}
