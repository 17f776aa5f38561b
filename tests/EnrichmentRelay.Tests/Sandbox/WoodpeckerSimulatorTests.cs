using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Woodpecker;
using Microsoft.Extensions.Time.Testing;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>
/// The Woodpecker Lead Finder simulator over real HTTP on loopback, against the behaviour providers.md §1.6 lists.
/// Batches advance only with the fake clock, so every state below is exact.
/// </summary>
public sealed class WoodpeckerSimulatorTests : IAsyncLifetime
{
    // 10:00 UTC is 12:00 at the +02:00 offset the API shows.
    static readonly DateTimeOffset Start = new(2026, 5, 1, 10, 0, 0, TimeSpan.Zero);
    readonly FakeTimeProvider clock = new(Start);
    SandboxServer sandbox = null!;
    HttpClient http = null!;
    WoodpeckerSimulator Woodpecker => sandbox.Woodpecker;

    public async Task InitializeAsync()
    {
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { TimeProvider = clock, WoodpeckerApiKey = "k" });
        Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(4);
        http = new HttpClient { BaseAddress = sandbox.BaseAddress };
        http.DefaultRequestHeaders.Add("x-api-key", "k");
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await sandbox.DisposeAsync();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    public async Task MissingOrWrongKeyAnswers401WithTheV2Body(string? key)
    {
        using var client = new HttpClient { BaseAddress = sandbox.BaseAddress };
        if (key is not null)
            client.DefaultRequestHeaders.Add("x-api-key", key);

        using var response = await client.GetAsync("rest/v2/lead_finder/leads/enrichments");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Unauthorized", body.GetProperty("title").GetString());
        Assert.Equal(401, body.GetProperty("status").GetInt32());
        Assert.Equal("Invalid api key", body.GetProperty("details").GetString());
        Assert.Equal("2026-05-01 10:00:00", body.GetProperty("timestamp").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("extra").ValueKind);
    }

    public static TheoryData<string> InvalidLeadBodies => new()
    {
        """{"leads":[]}""",
        """{}""",
        """{"leads":[{"full_name":"Jane Doe"}]}""",
        """{"leads":[{"uid":""}]}""",
        """{"leads":[{"uid":"a"}],"target_campaign_ids":["x"]}""",
        """{"leads": [""",
        JsonSerializer.Serialize(new { leads = Enumerable.Range(0, 51).Select(i => new { uid = $"u{i}" }) }),
    };

    [Theory]
    [MemberData(nameof(InvalidLeadBodies))]
    public async Task InvalidLeadSubmitsAnswer400WithTheV2Body(string body)
    {
        using var response = await http.PostAsync("rest/v2/lead_finder/leads/enrichments",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Bad Request", error.GetProperty("title").GetString());
        Assert.Equal(400, error.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("details").GetString()));
        Assert.Equal(0, Woodpecker.Counters.BatchesCreated);
    }

    [Fact]
    public async Task FiftyLeadsAreAccepted()
    {
        var answer = await SubmitLeadsAsync(Enumerable.Range(0, 50).Select(i => Lead($"u{i}", $"First{i}", "Last")).ToArray());

        Assert.Equal("ENQUEUED", answer.GetProperty("status").GetString());
        Assert.Equal(50, answer.GetProperty("leads_count").GetInt32());
        Assert.Equal(50, Woodpecker.Counters.LargestBatch);
    }

    [Fact]
    public async Task LeadsGoFromPendingToProcessedSpreadOverTheProcessingDelay()
    {
        var answer = await SubmitLeadsAsync(Lead("u0", "Ann", "A"), Lead("u1", "Bob", "B"), Lead("u2", "Cid", "C"), Lead("u3", "Dee", "D"), Lead("u4", "Eve", "E"));
        Assert.Equal("ENQUEUED", answer.GetProperty("status").GetString());
        Assert.Equal(5, answer.GetProperty("leads_count").GetInt32());
        var uuid = answer.GetProperty("uuid").GetString()!;

        var batch = await GetBatchAsync(uuid);
        Assert.Equal(uuid, batch.GetProperty("uuid").GetString());
        Assert.Equal("2026-05-01T12:00:00+02:00", batch.GetProperty("created").GetString());
        Assert.All(batch.GetProperty("leads").EnumerateArray(), l =>
        {
            Assert.Equal("PENDING", l.GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Null, l.GetProperty("processing_result").ValueKind);
        });

        // Delay 4 s: lead i is done after (1 + i % 4) s.
        string[] Statuses(JsonElement b) => b.GetProperty("leads").EnumerateArray().Select(l => l.GetProperty("status").GetString()!).ToArray();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["PROCESSED", "PENDING", "PENDING", "PENDING", "PROCESSED"], Statuses(await GetBatchAsync(uuid)));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["PROCESSED", "PROCESSED", "PENDING", "PENDING", "PROCESSED"], Statuses(await GetBatchAsync(uuid)));
        clock.Advance(TimeSpan.FromSeconds(2));
        var done = await GetBatchAsync(uuid);
        Assert.All(done.GetProperty("leads").EnumerateArray(), l =>
            Assert.Equal("CONVERTED_TO_PROSPECT", l.GetProperty("processing_result").GetString()));
        Assert.Equal(7.5m, Woodpecker.Counters.CreditsCharged);
    }

    [Fact]
    public async Task ConvertedLeadBecomesAProspectFoundByLinkedinOrName()
    {
        Woodpecker.Settings.ProspectVisibilityDelay = TimeSpan.FromSeconds(10);
        await SubmitLeadsAsync(ErlichBachman("e1"));

        using (var before = await http.GetAsync("rest/v1/prospects?search=linkedin_url=linkedin.com/in/erlich-bachman-404xyz"))
        {
            Assert.Equal(HttpStatusCode.NoContent, before.StatusCode);
            Assert.Empty(await before.Content.ReadAsByteArrayAsync());
        }

        clock.Advance(TimeSpan.FromSeconds(4));
        var lead = (await GetBatchAsync(Woodpecker.Batches.Single().Uuid)).GetProperty("leads")[0];
        Assert.Equal("CONVERTED_TO_PROSPECT", lead.GetProperty("processing_result").GetString());
        // Converted, but not yet searchable.
        using (var hidden = await http.GetAsync("rest/v1/prospects?search=linkedin_url=linkedin.com/in/erlich-bachman-404xyz"))
            Assert.Equal(HttpStatusCode.NoContent, hidden.StatusCode);

        clock.Advance(TimeSpan.FromSeconds(10));
        using var found = await http.GetAsync("rest/v1/prospects?search=linkedin_url=linkedin.com/in/erlich-bachman-404xyz");
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal("1", found.Headers.GetValues("X-Total-Count").Single());
        var prospect = Assert.Single((await found.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray());
        Assert.Equal("erlich.bachman@bachmanity.com", prospect.GetProperty("email").GetString());
        Assert.Equal("https://www.linkedin.com/in/erlich-bachman-404xyz", prospect.GetProperty("linkedin_url").GetString());
        Assert.Equal("Erlich", prospect.GetProperty("first_name").GetString());
        Assert.Equal("Bachmanity", prospect.GetProperty("company").GetString());
        Assert.Equal("bachmanity.com", prospect.GetProperty("website").GetString());
        Assert.Equal("ACTIVE", prospect.GetProperty("status").GetString());
        // Converted at 1/4 of the 4 s delay, the time the record was saved.
        Assert.Equal("2026-05-01T12:00:01+0200", prospect.GetProperty("updated").GetString());
        Assert.Equal(JsonValueKind.Number, prospect.GetProperty("id").ValueKind);

        // Different fields AND, the same field OR.
        Assert.Equal(1, await CountAsync("first_name=erl,last_name=BACH"));
        Assert.Equal(0, await CountAsync("first_name=erl,last_name=hendricks"));
        Assert.Equal(1, await CountAsync("last_name=hendricks,last_name=bachman"));
        Assert.Equal(1, await CountAsync("email=ERLICH.bachman@bachmanity.com"));
        Assert.Equal(0, await CountAsync("email=erlich@bachmanity.com"));
        Assert.Equal(1, await CountAsync("email=bachmanity"));
    }

    [Fact]
    public async Task LeadWithoutNamesTakesThemFromTheProfileSlugAndAMadeUpWebsite()
    {
        await SubmitLeadsAsync(new JsonObject { ["uid"] = "x", ["linkedin_url"] = "linkedin.com/in/jared-dunn-77", ["company_name"] = "Pied Piper" });
        clock.Advance(TimeSpan.FromSeconds(4));

        var prospect = Assert.Single(Woodpecker.Prospects);
        Assert.Equal("jared.dunn@piedpiper.example", prospect.Email);
        Assert.Equal("https://www.linkedin.com/in/jared-dunn-77", prospect.LinkedinUrl);
    }

    [Fact]
    public async Task NotConvertedLeadCreatesNothingAndCostsNothing()
    {
        Woodpecker.SetLeadOutcome("e1", LeadConversion.NotConverted);
        var uuid = (await SubmitLeadsAsync(ErlichBachman("e1"))).GetProperty("uuid").GetString()!;
        clock.Advance(TimeSpan.FromSeconds(4));

        var lead = (await GetBatchAsync(uuid)).GetProperty("leads")[0];
        Assert.Equal("PROCESSED", lead.GetProperty("status").GetString());
        Assert.Equal("NOT_CONVERTED_TO_PROSPECT", lead.GetProperty("processing_result").GetString());
        using var search = await http.GetAsync("rest/v1/prospects?search=last_name=bachman");
        Assert.Equal(HttpStatusCode.NoContent, search.StatusCode);
        Assert.Empty(Woodpecker.Prospects);
        Assert.Equal(0m, Woodpecker.Counters.CreditsCharged);
        Assert.Equal(1_000_000m, Woodpecker.Credits);
    }

    [Fact]
    public async Task EachFoundEmailCostsOnePointFiveCredits()
    {
        Woodpecker.Settings.Credits = 10;
        Woodpecker.SetLeadOutcome("c", LeadConversion.NotConverted);
        await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"), Lead("c", "Cid", "C"));

        clock.Advance(TimeSpan.FromSeconds(4));

        Assert.Equal(3m, Woodpecker.Counters.CreditsCharged);
        Assert.Equal(7m, Woodpecker.Credits);
        Assert.Equal(2, Woodpecker.Prospects.Count);
    }

    [Fact]
    public async Task CreditsCoveringFewerLeadsEnqueueTheFirstOnesPartially()
    {
        Woodpecker.Settings.Credits = 4; // floor(4 / 1.5) = 2

        var answer = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"), Lead("c", "Cid", "C"));

        Assert.Equal("PARTIALLY_ENQUEUED", answer.GetProperty("status").GetString());
        Assert.Equal(2, answer.GetProperty("leads_count").GetInt32());
        var batch = await GetBatchAsync(answer.GetProperty("uuid").GetString()!);
        Assert.Equal(["a", "b"], batch.GetProperty("leads").EnumerateArray().Select(l => l.GetProperty("uid").GetString()));

        // The two pending leads hold back 3 of the 4 credits.
        var next = await SubmitLeadsAsync(Lead("d", "Dee", "D"));
        Assert.Equal("CREDITS_EXHAUSTED", next.GetProperty("status").GetString());
    }

    [Fact]
    public async Task NoCreditsAnswerCreditsExhaustedWithoutABatch()
    {
        Woodpecker.Settings.Credits = 1;

        var answer = await SubmitLeadsAsync(Lead("a", "Ann", "A"));

        Assert.Equal("CREDITS_EXHAUSTED", answer.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("uuid").ValueKind);
        Assert.Equal(0, answer.GetProperty("leads_count").GetInt32());
        Assert.Empty(Woodpecker.Batches);
    }

    [Fact]
    public async Task CreditsExhaustedCanComeWithThePartialBatch()
    {
        Woodpecker.Settings.Credits = 3;
        Woodpecker.Settings.CreditsExhaustedWithPartialBatch = true;

        var answer = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"), Lead("c", "Cid", "C"));

        Assert.Equal("CREDITS_EXHAUSTED", answer.GetProperty("status").GetString());
        Assert.Equal(2, answer.GetProperty("leads_count").GetInt32());
        Assert.Equal(JsonValueKind.String, answer.GetProperty("uuid").ValueKind);
    }

    [Fact]
    public async Task PendingUidsAreNotEnqueuedAgain()
    {
        await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"));

        var again = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"));
        Assert.Equal("NOT_ENQUEUED", again.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, again.GetProperty("uuid").ValueKind);
        Assert.Equal(0, again.GetProperty("leads_count").GetInt32());

        var mixed = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("c", "Cid", "C"));
        Assert.Equal("PARTIALLY_ENQUEUED", mixed.GetProperty("status").GetString());
        Assert.Equal(1, mixed.GetProperty("leads_count").GetInt32());

        // Once processed, a uid can be queued again: a new batch, counted twice.
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal("ENQUEUED", (await SubmitLeadsAsync(Lead("a", "Ann", "A"))).GetProperty("status").GetString());
        var counters = Woodpecker.Counters;
        Assert.Equal(2, counters.LeadSubmissions["a"]);
        Assert.Equal(1, counters.LeadSubmissions["c"]);
        Assert.Equal(3, counters.BatchesCreated);
        Assert.Equal(4, counters.LeadSubmitCalls);
    }

    [Fact]
    public async Task ListShowsTheLast24HoursByDefaultAndCreatedAfterReachesFurther()
    {
        var uuid = (await SubmitLeadsAsync(Lead("a", "Ann", "A"))).GetProperty("uuid").GetString()!;
        Assert.Equal([uuid], await ListAsync(""));

        clock.Advance(TimeSpan.FromHours(30));
        var recent = (await SubmitLeadsAsync(Lead("b", "Bob", "B"))).GetProperty("uuid").GetString()!;

        Assert.Equal([recent], await ListAsync(""));
        Assert.Equal([uuid, recent], await ListAsync("?created_after=2026-05-01"));
        Assert.Equal([recent], await ListAsync("?created_after=2026-05-02"));

        using var full = await http.GetFromJsonAsync<JsonDocument>("rest/v2/lead_finder/leads/enrichments?created_after=2026-05-01");
        var first = full!.RootElement.GetProperty("lead_enrichments")[0];
        Assert.Equal("2026-05-01T12:00:00+02:00", first.GetProperty("created").GetString());
        Assert.Equal("CONVERTED_TO_PROSPECT", first.GetProperty("leads")[0].GetProperty("processing_result").GetString());

        using var bad = await http.GetAsync("rest/v2/lead_finder/leads/enrichments?created_after=01-05-2026");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("Value of created_after is incorrect.", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("details").GetString());
    }

    [Fact]
    public async Task GetByUuidIsBareOrWrappedAndUnknownIs404()
    {
        var uuid = (await SubmitLeadsAsync(Lead("a", "Ann", "A"))).GetProperty("uuid").GetString()!;

        Assert.Equal(uuid, (await GetBatchAsync(uuid)).GetProperty("uuid").GetString());
        Woodpecker.Settings.WrapGetByUuid = true;
        using (var wrapped = await http.GetAsync($"rest/v2/lead_finder/leads/enrichments/{uuid}"))
        {
            var body = await wrapped.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(uuid, body.GetProperty("lead_enrichment").GetProperty("uuid").GetString());
            Assert.False(body.TryGetProperty("uuid", out _));
        }

        using var missing = await http.GetAsync($"rest/v2/lead_finder/leads/enrichments/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var error = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Not Found", error.GetProperty("title").GetString());
        Assert.Equal(404, error.GetProperty("status").GetInt32());
        Assert.Equal(3, Woodpecker.Counters.GetCalls);
    }

    [Fact]
    public async Task ProspectEnrichmentEnrichesOnlyKnownProspectsAndChargesThoseEnriched()
    {
        Woodpecker.AddProspect("jared@piedpiper.com", "Jared", "Dunn", "Pied Piper", "piedpiper.com");
        Woodpecker.AddProspect("erlich@bachmanity.com", "Erlich", "Bachman", "Bachmanity", "bachmanity.com");
        Woodpecker.SetProspectEnrichment("erlich@bachmanity.com", false);

        using var submit = await http.PostAsJsonAsync("rest/v2/lead_finder/prospects/enrichments", new JsonObject
        {
            ["prospects"] = new JsonArray(
                new JsonObject { ["email"] = "jared@piedpiper.com" },
                new JsonObject { ["email"] = "erlich@bachmanity.com" },
                new JsonObject { ["email"] = "nobody@nowhere.com", ["first_name"] = "No" }),
        });
        Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        var answer = await submit.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ENQUEUED", answer.GetProperty("status").GetString());
        Assert.Equal(3, answer.GetProperty("prospects_count").GetInt32());
        var uuid = answer.GetProperty("uuid").GetString();

        Assert.All((await StatusesAsync(new JsonObject())).Values, s => Assert.Equal("PENDING", s));

        clock.Advance(TimeSpan.FromSeconds(4));
        var statuses = await StatusesAsync(new JsonObject());
        Assert.Equal("PROCESSED_ENRICHED", statuses["jared@piedpiper.com"]);
        Assert.Equal("PROCESSED_NOT_ENRICHED", statuses["erlich@bachmanity.com"]);
        Assert.Equal("PROCESSED_NOT_ENRICHED", statuses["nobody@nowhere.com"]);
        Assert.Equal(1.5m, Woodpecker.Counters.CreditsCharged);
        Assert.Equal(2, Woodpecker.Prospects.Count);

        using var filtered = await http.PostAsJsonAsync("rest/v2/lead_finder/prospects/enrichments/statuses/query",
            new JsonObject { ["emails"] = new JsonArray("JARED@piedpiper.com") });
        var entry = Assert.Single((await filtered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("prospect_enrichments").EnumerateArray());
        Assert.Equal(uuid, entry.GetProperty("uuid").GetString());
        Assert.Equal("2026-05-01T12:00:00+02:00", entry.GetProperty("created").GetString());

        // An empty query shows the last 24 h only; an emails filter reaches further back.
        clock.Advance(TimeSpan.FromHours(25));
        Assert.Empty(await StatusesAsync(new JsonObject()));
        Assert.Single(await StatusesAsync(new JsonObject { ["emails"] = new JsonArray("jared@piedpiper.com") }));
    }

    [Theory]
    [InlineData("""{"prospects":[]}""")]
    [InlineData("""{"prospects":[{"first_name":"No email"}]}""")]
    public async Task InvalidProspectSubmitsAnswer400(string body)
    {
        using var response = await http.PostAsync("rest/v2/lead_finder/prospects/enrichments",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(400, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task BareEmailParameterIsIgnoredAndReturnsTheWholeDatabasePaged()
    {
        Woodpecker.AddProspect("a@x.com", "A", "One");
        Woodpecker.AddProspect("b@x.com", "B", "Two");
        Woodpecker.AddProspect("c@x.com", "C", "Three");

        using var all = await http.GetAsync("rest/v1/prospects?email=b@x.com");
        Assert.Equal(HttpStatusCode.OK, all.StatusCode);
        Assert.Equal("3", all.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal(3, (await all.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength());

        using var page2 = await http.GetAsync("rest/v1/prospects?per_page=2&page=2");
        Assert.Equal("3", page2.Headers.GetValues("X-Total-Count").Single());
        var rest = Assert.Single((await page2.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray());
        Assert.Equal("c@x.com", rest.GetProperty("email").GetString());

        using var beyond = await http.GetAsync("rest/v1/prospects?per_page=2&page=3");
        Assert.Equal(HttpStatusCode.NoContent, beyond.StatusCode);
        Assert.Equal(1, await CountAsync("email=b@x.com"));
        Assert.Equal(4, Woodpecker.Counters.ProspectSearchCalls);
    }

    [Fact]
    public async Task OverlappingRequestsBeyondTheQueueAreDroppedAndTheOverlapIsRecorded()
    {
        Woodpecker.Settings.RequestProcessingTime = TimeSpan.FromMilliseconds(200);
        Woodpecker.Settings.MaxQueued = 1;

        // The first request holds the slot until the fake clock moves: one more may queue, the other two are dropped.
        var requests = Task.WhenAll(Enumerable.Range(0, 4).Select(_ => http.GetAsync("rest/v2/lead_finder/leads/enrichments")));
        await Eventually.ReturnsAsync(() => Woodpecker.Counters.RequestsDroppedForConcurrency, n => n == 2, "two requests dropped");
        var responses = await AdvancingTheClockAsync(requests, TimeSpan.FromMilliseconds(200));

        var dropped = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(2, dropped.Count);
        Assert.Equal(2, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var body = await dropped[0].Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Too Many Requests", body.GetProperty("title").GetString());
        Assert.Equal(429, body.GetProperty("status").GetInt32());
        Assert.False(dropped[0].Headers.Contains("Retry-After"));
        var counters = Woodpecker.Counters;
        Assert.True(counters.MaxConcurrentRequests > 1, $"max concurrent {counters.MaxConcurrentRequests}");
        Assert.Equal(2, counters.RequestsDroppedForConcurrency);
        foreach (var response in responses)
            response.Dispose();
    }

    [Fact]
    public async Task SequentialRequestsNeverOverlap()
    {
        Woodpecker.Settings.RequestProcessingTime = TimeSpan.FromMilliseconds(20);
        for (var i = 0; i < 3; i++)
            await AdvancingTheClockAsync(ListAsync(""), TimeSpan.FromMilliseconds(20));

        Assert.Equal(1, Woodpecker.Counters.MaxConcurrentRequests);
        Assert.Equal(0, Woodpecker.Counters.RequestsDroppedForConcurrency);
    }

    [Fact]
    public async Task QueuedRequestWaitingTooLongIsDroppedWithTheConfiguredStatus()
    {
        Woodpecker.Settings.RequestProcessingTime = TimeSpan.FromMilliseconds(500);
        Woodpecker.Settings.QueueWait = TimeSpan.FromMilliseconds(50);
        Woodpecker.Settings.TooManyRequestsStatus = 400;

        // Whichever request takes the slot keeps it until the fake clock moves; the other gives up after 50 ms of real time.
        var requests = Task.WhenAll(Enumerable.Range(0, 2).Select(_ => http.GetAsync("rest/v2/lead_finder/leads/enrichments")));
        await Eventually.ReturnsAsync(() => Woodpecker.Counters.RequestsDroppedForConcurrency, n => n == 1, "the queued request dropped");
        var responses = await AdvancingTheClockAsync(requests, TimeSpan.FromMilliseconds(500));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.BadRequest], responses.Select(r => r.StatusCode).Order());
        Assert.Equal(1, Woodpecker.Counters.RequestsDroppedForConcurrency);
        foreach (var response in responses)
            response.Dispose();
    }

    [Fact]
    public async Task FaultsForceAStatusOrFailTheSubmit()
    {
        Woodpecker.FailNextSubmits(1, 503);
        using (var failed = await http.PostAsJsonAsync("rest/v2/lead_finder/leads/enrichments", LeadsBody(Lead("a", "Ann", "A"))))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal(503, (await failed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        }
        Assert.Equal(0, Woodpecker.Counters.BatchesCreated);

        Woodpecker.ForceNextSubmit("PARTIALLY_ENQUEUED", 1);
        var forced = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"));
        Assert.Equal("PARTIALLY_ENQUEUED", forced.GetProperty("status").GetString());
        Assert.Equal(1, forced.GetProperty("leads_count").GetInt32());
        Assert.Equal("a", Woodpecker.Batches.Single().Items.Single().Uid);

        Woodpecker.ForceNextSubmit("CREDITS_EXHAUSTED", 0);
        var none = await SubmitLeadsAsync(Lead("c", "Cid", "C"));
        Assert.Equal(JsonValueKind.Null, none.GetProperty("uuid").ValueKind);
        Assert.Equal("ENQUEUED", (await SubmitLeadsAsync(Lead("c", "Cid", "C"))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task AStatusQueryAskingAboutARefusedEmailFailsUntilTheFaultIsLifted()
    {
        using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
        using (var set = await control.PostAsJsonAsync("sandbox/woodpecker/faults", new { failStatusQueriesFor = "Bad@Acme.com" }))
            Assert.Equal(HttpStatusCode.NoContent, set.StatusCode);
        Task<HttpResponseMessage> QueryAsync(params string[] emails) =>
            http.PostAsJsonAsync("rest/v2/lead_finder/prospects/enrichments/statuses/query", new { emails });

        using (var refused = await QueryAsync("good@acme.com", "bad@acme.com"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal(400, (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        }
        using (var answered = await QueryAsync("good@acme.com"))
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);

        Woodpecker.FailStatusQueriesFor("bad@acme.com", 0);
        using (var lifted = await QueryAsync("good@acme.com", "bad@acme.com"))
            Assert.Equal(HttpStatusCode.OK, lifted.StatusCode);
        Woodpecker.FailStatusQueriesFor("bad@acme.com", 503);
        Woodpecker.Reset();
        using (var reset = await QueryAsync("bad@acme.com"))
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
    }

    [Fact]
    public async Task ControlApiDrivesTheSimulatorAndResetClearsIt()
    {
        using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
        using (var settings = await control.PostAsJsonAsync("sandbox/woodpecker/settings", new { wrapGetByUuid = true, processingDelayMs = 2000 }))
        {
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
            Assert.True(Woodpecker.Settings.WrapGetByUuid);
            Assert.Equal(TimeSpan.FromSeconds(2), Woodpecker.Settings.ProcessingDelay);
        }
        using (var typo = await control.PostAsJsonAsync("sandbox/woodpecker/settings", new { wrapGetByUid = true }))
            Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        using (var outcome = await control.PutAsJsonAsync("sandbox/woodpecker/leads/a/outcome", new { outcome = "notConverted" }))
            Assert.Equal(HttpStatusCode.NoContent, outcome.StatusCode);
        using (var added = await control.PostAsJsonAsync("sandbox/woodpecker/prospects", new { email = "z@z.com", firstName = "Zed" }))
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        using (var faults = await control.PostAsJsonAsync("sandbox/woodpecker/faults", new { forceNextSubmitStatus = "PARTIALLY_ENQUEUED", enqueueCount = 1 }))
            Assert.Equal(HttpStatusCode.NoContent, faults.StatusCode);

        var answer = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("b", "Bob", "B"));
        Assert.Equal("PARTIALLY_ENQUEUED", answer.GetProperty("status").GetString());
        clock.Advance(TimeSpan.FromSeconds(2));
        var batches = await control.GetFromJsonAsync<JsonElement>("sandbox/woodpecker/batches");
        Assert.Equal("NOT_CONVERTED_TO_PROSPECT", batches[0].GetProperty("items")[0].GetProperty("result").GetString());
        var counters = await control.GetFromJsonAsync<JsonElement>("sandbox/woodpecker/counters");
        Assert.Equal(1, counters.GetProperty("leadSubmitCalls").GetInt32());

        using (var reset = await control.PostAsync("sandbox/reset", null))
            Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        Assert.Empty(Woodpecker.Batches);
        Assert.Empty(Woodpecker.Prospects);
        Assert.False(Woodpecker.Settings.WrapGetByUuid);
        Assert.Equal(0, Woodpecker.Counters.LeadSubmitCalls);
    }

    // ---- the readings the vendor pages leave open (providers.md §1, §5), each switchable ----

    [Fact]
    public async Task TheV1ListCanIgnoreTheSortAndAnswerInIdOrder()
    {
        Woodpecker.AddProspect("first@acme.com", "First", "Added");
        clock.Advance(TimeSpan.FromMinutes(1));
        Woodpecker.AddProspect("second@acme.com", "Second", "Added");
        clock.Advance(TimeSpan.FromMinutes(1));
        Woodpecker.AddProspect("first@acme.com", "First", "Updated"); // now the most recently updated

        Assert.Equal(["first@acme.com", "second@acme.com"], await ProspectEmailsAsync("sort=-updated"));
        Woodpecker.Settings.ProspectListHonoursSort = false;
        Assert.Equal(["first@acme.com", "second@acme.com"], await ProspectEmailsAsync("sort=-id"));
        Woodpecker.Settings.ProspectListHonoursSort = true;
        Assert.Equal(["second@acme.com", "first@acme.com"], await ProspectEmailsAsync("sort=-id"));
    }

    [Fact]
    public async Task LinkedInUrlIsSearchableOnlyWhileTheUndocumentedReadingIsOn()
    {
        Woodpecker.AddProspect("erlich@bachmanity.com", "Erlich", "Bachman", "Bachmanity", "bachmanity.com", "https://www.linkedin.com/in/erlich");
        Assert.Equal(1, await CountAsync("linkedin_url=linkedin.com/in/erlich"));

        Woodpecker.Settings.LinkedInSearchable = false;
        using var refused = await http.GetAsync($"rest/v1/prospects?search={Uri.EscapeDataString("linkedin_url=linkedin.com/in/erlich")}");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("E_WRONG_PARAM", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetProperty("code").GetString());
        Assert.Equal(1, await CountAsync("first_name=Erlich,last_name=Bachman,company=Bachmanity"));
    }

    [Fact]
    public async Task LeadsLeftOutBecauseTheyArePendingCanLeaveTheAnswerEnqueued()
    {
        Woodpecker.Settings.AlreadyPendingLeavesBatchEnqueued = true;
        await SubmitLeadsAsync(Lead("a", "Ann", "A"));

        var mixed = await SubmitLeadsAsync(Lead("a", "Ann", "A"), Lead("c", "Cid", "C"));
        Assert.Equal("ENQUEUED", mixed.GetProperty("status").GetString());
        Assert.Equal(1, mixed.GetProperty("leads_count").GetInt32());
        Assert.Equal("NOT_ENQUEUED", (await SubmitLeadsAsync(Lead("a", "Ann", "A"))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task CreatedAfterCanExcludeTheDayEndingInTheAccountsZone()
    {
        // 2026-05-01 10:00 UTC is 2026-04-30 22:00 at UTC-12.
        Woodpecker.Settings.CreatedAfterExcludesTheDay = true;
        Woodpecker.Settings.AccountUtcOffset = TimeSpan.FromHours(-12);
        var uuid = (await SubmitLeadsAsync(Lead("a", "Ann", "A"))).GetProperty("uuid").GetString()!;

        Assert.Equal([uuid], await ListAsync("?created_after=2026-04-29"));
        Assert.Empty(await ListAsync("?created_after=2026-04-30"));
        using var full = await http.GetFromJsonAsync<JsonDocument>("rest/v2/lead_finder/leads/enrichments?created_after=2026-04-29");
        Assert.Equal("2026-04-30T22:00:00-12:00", full!.RootElement.GetProperty("lead_enrichments")[0].GetProperty("created").GetString());
    }

    [Fact]
    public async Task ConvertedProspectsCanComeWithoutTheLeadsLinkedIn()
    {
        Woodpecker.Settings.ConvertedProspectsKeepLinkedIn = false;
        await SubmitLeadsAsync(ErlichBachman("e1"));
        clock.Advance(TimeSpan.FromSeconds(4));

        var prospect = Assert.Single(Woodpecker.Prospects);
        Assert.Equal("erlich.bachman@bachmanity.com", prospect.Email);
        Assert.Null(prospect.LinkedinUrl);
    }

    [Fact]
    public async Task ALeadCanBeProcessedWithAResultThePagesDoNotList()
    {
        Woodpecker.SetLeadOutcome("odd", LeadConversion.Unrecognized);
        var uuid = (await SubmitLeadsAsync(Lead("odd", "Odd", "One"))).GetProperty("uuid").GetString()!;
        clock.Advance(TimeSpan.FromSeconds(4));

        var lead = (await GetBatchAsync(uuid)).GetProperty("leads")[0];
        Assert.Equal("PROCESSED", lead.GetProperty("status").GetString());
        Assert.Equal(WoodpeckerSimulator.UnrecognizedResult, lead.GetProperty("processing_result").GetString());
        Assert.Empty(Woodpecker.Prospects);
        Assert.Equal(0m, Woodpecker.Counters.CreditsCharged);
    }

    [Fact]
    public async Task ProspectStatusesThePagesDoNotNameAreSettable()
    {
        Woodpecker.Settings.ProspectPendingStatus = "IN_PROGRESS";
        Woodpecker.Settings.NotAProspectStatus = "PROCESSED_PROSPECT_NOT_FOUND";
        Woodpecker.AddProspect("known@acme.com", "Known", "Prospect");
        using (var queued = await http.PostAsJsonAsync("rest/v2/lead_finder/prospects/enrichments",
                   new { prospects = new[] { new { email = "known@acme.com" }, new { email = "stranger@acme.com" } } }))
            Assert.Equal(HttpStatusCode.OK, queued.StatusCode);

        Assert.Equal(new Dictionary<string, string> { ["known@acme.com"] = "IN_PROGRESS", ["stranger@acme.com"] = "IN_PROGRESS" },
            await StatusesAsync(new JsonObject()));
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(new Dictionary<string, string> { ["known@acme.com"] = "PROCESSED_ENRICHED", ["stranger@acme.com"] = "PROCESSED_PROSPECT_NOT_FOUND" },
            await StatusesAsync(new JsonObject()));
    }

    [Fact]
    public async Task TheRecentWindowCanAlsoLimitTheStatusQueryByEmail()
    {
        Woodpecker.AddProspect("known@acme.com", "Known", "Prospect");
        using (var queued = await http.PostAsJsonAsync("rest/v2/lead_finder/prospects/enrichments", new { prospects = new[] { new { email = "known@acme.com" } } }))
            Assert.Equal(HttpStatusCode.OK, queued.StatusCode);
        clock.Advance(TimeSpan.FromHours(30));
        var byEmail = new JsonObject { ["emails"] = new JsonArray("known@acme.com") };

        Assert.Single(await StatusesAsync(byEmail));
        Woodpecker.Settings.StatusQueryWindowAppliesToEmails = true;
        Assert.Empty(await StatusesAsync(byEmail));
    }

    [Fact]
    public async Task DocumentedOnlySetsEveryOpenReadingToItsLeastConvenientAndResetRestoresThem()
    {
        using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
        using (var documented = await control.PostAsync("sandbox/woodpecker/settings/documented-only", null))
        {
            Assert.Equal(HttpStatusCode.OK, documented.StatusCode);
            var view = await documented.Content.ReadFromJsonAsync<JsonElement>();
            Assert.False(view.GetProperty("prospectListHonoursSort").GetBoolean());
            Assert.Equal(-720, view.GetProperty("accountUtcOffsetMinutes").GetInt32());
        }
        var s = Woodpecker.Settings;
        Assert.False(s.ProspectListHonoursSort);
        Assert.False(s.LinkedInSearchable);
        Assert.True(s.AlreadyPendingLeavesBatchEnqueued);
        Assert.True(s.CreatedAfterExcludesTheDay);
        Assert.Equal(TimeSpan.FromHours(-12), s.AccountUtcOffset);
        Assert.False(s.ConvertedProspectsKeepLinkedIn);
        Assert.NotEqual("PENDING", s.ProspectPendingStatus);
        Assert.NotEqual("PROCESSED_NOT_ENRICHED", s.NotAProspectStatus);
        Assert.True(s.StatusQueryWindowAppliesToEmails);
        Assert.True(s.WrapGetByUuid);
        Assert.True(s.CreditsExhaustedWithPartialBatch);
        Assert.Equal(400, s.TooManyRequestsStatus);
        Assert.True(s.ProspectVisibilityDelay > TimeSpan.Zero);

        using (var update = await control.PostAsJsonAsync("sandbox/woodpecker/settings", new { prospectListHonoursSort = true, accountUtcOffsetMinutes = 60 }))
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.True(s.ProspectListHonoursSort);
        Assert.Equal(TimeSpan.FromHours(1), s.AccountUtcOffset);
        using (var bad = await control.PostAsJsonAsync("sandbox/woodpecker/settings", new { accountUtcOffsetMinutes = 900 }))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        Woodpecker.Reset();
        Assert.True(s.ProspectListHonoursSort);
        Assert.True(s.LinkedInSearchable);
        Assert.False(s.CreatedAfterExcludesTheDay);
        Assert.Equal(TimeSpan.FromHours(2), s.AccountUtcOffset);
        Assert.Equal("PENDING", s.ProspectPendingStatus);
        Assert.Equal(429, s.TooManyRequestsStatus);
    }

    async Task<List<string>> ProspectEmailsAsync(string query)
    {
        var body = await http.GetFromJsonAsync<JsonElement>($"rest/v1/prospects?{query}");
        return body.EnumerateArray().Select(p => p.GetProperty("email").GetString()!).ToList();
    }

    static JsonObject Lead(string uid, string first, string last) => new()
    {
        ["uid"] = uid,
        ["full_name"] = $"{first} {last}",
        ["first_name"] = first,
        ["last_name"] = last,
        ["linkedin_url"] = $"linkedin.com/in/{first.ToLowerInvariant()}-{last.ToLowerInvariant()}",
        ["company_name"] = "Acme",
        ["company_website"] = "acme.com",
    };

    static JsonObject ErlichBachman(string uid) => new()
    {
        ["uid"] = uid,
        ["full_name"] = "Erlich Bachman",
        ["first_name"] = "Erlich",
        ["last_name"] = "Bachman",
        ["gender"] = "Male",
        ["linkedin_url"] = "linkedin.com/in/erlich-bachman-404xyz",
        ["company_name"] = "Bachmanity",
        ["company_website"] = "bachmanity.com",
        ["industry"] = "Software as a Service",
        ["job_title"] = "Ceo",
        ["job_title_role"] = "Operations",
        ["job_title_levels"] = new JsonArray("Cxo"),
        ["location_name"] = "Palo Alto, California, United States",
        ["city"] = "Palo Alto",
        ["state"] = "California",
        ["country"] = "United States",
    };

    static JsonObject LeadsBody(params JsonObject[] leads) => new()
    {
        ["leads"] = new JsonArray(leads.Select(l => (JsonNode)l.DeepClone()).ToArray()),
        ["target_campaign_ids"] = new JsonArray(),
    };

    /// <summary>Moves the fake clock on, a step at a time, until the requests holding the slot are answered.</summary>
    async Task<T> AdvancingTheClockAsync<T>(Task<T> answered, TimeSpan step)
    {
        await Eventually.ReturnsAsync(() =>
        {
            clock.Advance(step);
            return answered.IsCompleted;
        }, done => done, "the requests holding the slot to be answered");
        return await answered;
    }

    async Task<JsonElement> SubmitLeadsAsync(params JsonObject[] leads)
    {
        using var response = await http.PostAsJsonAsync("rest/v2/lead_finder/leads/enrichments", LeadsBody(leads));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    async Task<JsonElement> GetBatchAsync(string uuid)
    {
        using var response = await http.GetAsync($"rest/v2/lead_finder/leads/enrichments/{uuid}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    async Task<List<string>> ListAsync(string query)
    {
        var body = await http.GetFromJsonAsync<JsonElement>($"rest/v2/lead_finder/leads/enrichments{query}");
        return body.GetProperty("lead_enrichments").EnumerateArray().Select(b => b.GetProperty("uuid").GetString()!).ToList();
    }

    async Task<Dictionary<string, string>> StatusesAsync(JsonObject query)
    {
        using var response = await http.PostAsJsonAsync("rest/v2/lead_finder/prospects/enrichments/statuses/query", query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("prospect_enrichments").EnumerateArray()
            .ToDictionary(e => e.GetProperty("prospect_email").GetString()!, e => e.GetProperty("status").GetString()!);
    }

    /// <summary>How many prospects a v1 search finds: X-Total-Count, or 0 on 204.</summary>
    async Task<int> CountAsync(string search)
    {
        using var response = await http.GetAsync($"rest/v1/prospects?search={Uri.EscapeDataString(search)}");
        return response.StatusCode == HttpStatusCode.NoContent ? 0 : int.Parse(response.Headers.GetValues("X-Total-Count").Single());
    }
}
