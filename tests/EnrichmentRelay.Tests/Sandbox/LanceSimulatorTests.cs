using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Lance;
using Microsoft.Extensions.Time.Testing;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>
/// The Lance simulator over real HTTP on loopback, against the behaviour providers.md §3.6 lists.
/// Enrichments advance only with the fake clock, so every state below is exact.
/// </summary>
public sealed class LanceSimulatorTests : IAsyncLifetime
{
    static readonly DateTimeOffset Start = new(2026, 5, 1, 10, 0, 0, TimeSpan.Zero);
    const string Ann = "a1b2c3d4-0000-4000-8000-000000000001";
    const string Bob = "b1b2c3d4-0000-4000-8000-000000000002";
    const string Cid = "c1b2c3d4-0000-4000-8000-000000000003";
    const string Dee = "d1b2c3d4-0000-4000-8000-000000000004";
    const string Eve = "e1b2c3d4-0000-4000-8000-000000000005";
    readonly FakeTimeProvider clock = new(Start);
    SandboxServer sandbox = null!;
    HttpClient http = null!;
    LanceSimulator Lance => sandbox.Lance;

    public async Task InitializeAsync()
    {
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { TimeProvider = clock, LanceApiKey = "k" });
        http = new HttpClient { BaseAddress = sandbox.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "k");
        Lance.AddPerson(Ann, "Ann", "Archer");
        Lance.AddPerson(Bob, "Bob", "Baker");
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await sandbox.DisposeAsync();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong")]
    [InlineData("k")]
    public async Task MissingOrWrongTokenAnswers401Unauthorized(string? authorization)
    {
        using var client = new HttpClient { BaseAddress = sandbox.BaseAddress };
        if (authorization is not null)
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);

        using var response = await client.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Ann));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("UNAUTHORIZED", await ErrorCodeAsync(response));
        Assert.Empty(Lance.Enrichments);
    }

    public static TheoryData<string> InvalidBulkBodies => new()
    {
        """{}""",
        """{"field":"emails"}""",
        $$$"""{"selection":{"mode":"manual","includedIds":["{{{Ann}}}"]}}""",
        $$$"""{"selection":{"mode":"manual","includedIds":["{{{Ann}}}"]},"field":"summary"}""",
        $$$"""{"selection":{"mode":"everyone","includedIds":["{{{Ann}}}"]},"field":"emails"}""",
        """{"selection":{"mode":"manual","includedIds":[]},"field":"emails"}""",
        """{"selection":{"mode":"manual"},"field":"emails"}""",
        """{"selection":{"mode":"manual","includedIds":["not-a-uuid"]},"field":"emails"}""",
        JsonSerializer.Serialize(Manual("emails", Enumerable.Range(0, 1001).Select(i => $"00000000-0000-4000-8000-{i:D12}").ToArray())),
        """{"selection":{"mode":"bulk","targetCount":0,"filters":{}},"field":"emails"}""",
        """{"selection":{"mode":"bulk","targetCount":1001,"filters":{}},"field":"emails"}""",
        """{"selection":{"mode":"bulk","filters":{}},"field":"emails"}""",
        """{"selection":{"mode":"bulk","targetCount":5,"startIndex":-1,"filters":{}},"field":"emails"}""",
        """{"selection": {""",
    };

    [Theory]
    [MemberData(nameof(InvalidBulkBodies))]
    public async Task InvalidBulkSubmitsAnswer400ValidationError(string body)
    {
        using var response = await http.PostAsync("api/v1/operations/enrichment/bulk", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("VALIDATION_ERROR", await ErrorCodeAsync(response));
        Assert.Empty(Lance.Enrichments);
        Assert.Equal(0m, Lance.Counters.CreditsCharged);
    }

    [Fact]
    public async Task ManualSubmitIsPendingThenFinishedAndThePersonGainsTheEmail()
    {
        var submitted = Assert.Single(await SubmitAsync(Manual("emails", Ann)));
        Assert.Equal(Ann, submitted.GetProperty("entityId").GetString());
        Assert.Equal("person", submitted.GetProperty("entityType").GetString());
        Assert.Equal("emails", submitted.GetProperty("field").GetString());
        Assert.Equal("pending", submitted.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, submitted.GetProperty("dataFound").ValueKind);
        Assert.Equal(JsonValueKind.Null, submitted.GetProperty("error").ValueKind);
        Assert.Equal(JsonValueKind.Null, submitted.GetProperty("globalEnrichmentId").ValueKind);
        Assert.Equal("user_sandbox", submitted.GetProperty("createdBy").GetString());
        Assert.Equal("org_sandbox", submitted.GetProperty("orgId").GetString());
        Assert.False(string.IsNullOrEmpty(submitted.GetProperty("creditTransactionId").GetString()));
        Assert.Equal("2026-05-01T10:00:00.000Z", submitted.GetProperty("createdAt").GetString());
        Assert.Equal("2026-05-01T10:00:00.000Z", submitted.GetProperty("updatedAt").GetString());
        Assert.Empty((await PersonAsync(Ann)).GetProperty("emails").EnumerateArray());

        // The first item of a call ends at 1/4 of the 1 s delay.
        clock.Advance(TimeSpan.FromMilliseconds(250));
        var done = Assert.Single(await QueryAsync(TaskFor(Ann, "emails")));
        Assert.Equal(submitted.GetProperty("id").GetString(), done.GetProperty("id").GetString());
        Assert.Equal("finished", done.GetProperty("status").GetString());
        Assert.True(done.GetProperty("dataFound").GetBoolean());
        Assert.Equal("2026-05-01T10:00:00.250Z", done.GetProperty("updatedAt").GetString());
        Assert.Equal("2026-05-01T10:00:00.000Z", done.GetProperty("createdAt").GetString());

        var person = await PersonAsync(Ann);
        Assert.Equal(Ann, person.GetProperty("id").GetString());
        Assert.Equal("Ann", person.GetProperty("firstName").GetString());
        Assert.Equal(["ann.archer@example-a1b2c3.com"], person.GetProperty("emails").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(1m, Lance.Counters.CreditsCharged);
        Assert.Equal(999_999m, Lance.Settings.Credits);
    }

    [Fact]
    public async Task ItemsOfOneCallEndSpreadOverTheProcessingDelay()
    {
        Lance.Settings.ProcessingDelay = TimeSpan.FromSeconds(4);
        await SubmitAsync(Manual("phones", Ann, Bob, Cid, Dee, Eve));

        string[] Statuses() => Lance.Enrichments.Select(e => e.Status).ToArray();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["finished", "pending", "pending", "pending", "finished"], Statuses());
        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.All(Statuses(), s => Assert.Equal("finished", s));
    }

    [Fact]
    public async Task UnknownUuidBecomesAPersonAndGetsDeterministicContacts()
    {
        var unknown = "0f0e0d0c-1111-4222-8333-444455556666";
        await SubmitAsync(Manual("emails", unknown));
        await SubmitAsync(Manual("phones", unknown));
        clock.Advance(TimeSpan.FromSeconds(1));

        var person = await PersonAsync(unknown);
        Assert.Equal(["person-0f0e0d0c@lance.example"], person.GetProperty("emails").EnumerateArray().Select(e => e.GetString()));
        var phone = Assert.Single(person.GetProperty("phones").EnumerateArray()).GetString()!;
        Assert.Matches("^\\+1555[0-9]{7}$", phone);

        using var missing = await http.GetAsync($"api/v1/entities/prospects/person/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(2, Lance.Counters.PersonReads);
    }

    [Fact]
    public async Task PreexistingContactsAreKeptAndTheFoundOneIsAppended()
    {
        Lance.Settings.PreexistingContacts = true;
        Lance.AddPerson(Cid, "Cid", "Cole");
        Assert.Single((await PersonAsync(Cid)).GetProperty("emails").EnumerateArray());

        await SubmitAsync(Manual("emails", Cid));
        clock.Advance(TimeSpan.FromSeconds(1));

        var emails = (await PersonAsync(Cid)).GetProperty("emails").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(2, emails.Count);
        Assert.Equal("cid.cole@example-c1b2c3.com", emails[1]);
    }

    [Fact]
    public async Task ResubmitWhilePendingReturnsTheSameRecordFree()
    {
        var first = Assert.Single(await SubmitAsync(Manual("emails", Ann))).GetProperty("id").GetString();

        var again = await SubmitAsync(Manual("emails", Ann, Ann, Bob));

        Assert.Equal(2, again.Count);
        Assert.Equal(first, again[0].GetProperty("id").GetString());
        Assert.Equal("pending", again[0].GetProperty("status").GetString());
        var counters = Lance.Counters;
        Assert.Equal(2m, counters.CreditsCharged);
        Assert.Equal(2, counters.EnrichmentsCreated);
        Assert.Equal(1, counters.EnrichmentsReused);
        Assert.Equal(1, counters.Charges[$"{Ann}:emails"]);
        Assert.Equal(2, counters.Submissions[$"{Ann}:emails"]);
        Assert.Equal(1, counters.Submissions[$"{Bob}:emails"]);
        Assert.Equal(2, counters.BulkCalls);
        Assert.Equal(2, counters.LargestBulk);
    }

    [Fact]
    public async Task FinishedRecordIsReturnedAsFinishedWithoutCharge()
    {
        Lance.SetOutcome(Bob, "emails", LanceOutcome.NotFound);
        var first = await SubmitAsync(Manual("emails", Ann, Bob));
        clock.Advance(TimeSpan.FromSeconds(1));

        var again = await SubmitAsync(Manual("emails", Ann, Bob));

        Assert.Equal(first.Select(e => e.GetProperty("id").GetString()), again.Select(e => e.GetProperty("id").GetString()));
        Assert.All(again, e => Assert.Equal("finished", e.GetProperty("status").GetString()));
        Assert.True(again[0].GetProperty("dataFound").GetBoolean());
        Assert.False(again[1].GetProperty("dataFound").GetBoolean());
        Assert.Empty((await PersonAsync(Bob)).GetProperty("emails").EnumerateArray());
        Assert.Equal(2m, Lance.Counters.CreditsCharged);
        // Another field is another enrichment.
        Assert.Equal("pending", Assert.Single(await SubmitAsync(Manual("phones", Ann))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task InsufficientCreditsFailTheWholeCallAndCreateNothing()
    {
        await SubmitAsync(Manual("emails", Ann));
        Lance.Settings.Credits = 1;

        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Ann, Bob, Cid));

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Equal("INSUFFICIENT_CREDITS", await ErrorCodeAsync(response));
        Assert.Single(Lance.Enrichments);
        Assert.Equal(1m, Lance.Settings.Credits);
        Assert.Equal(1m, Lance.Counters.CreditsCharged);

        // Reused records cost nothing, so one credit covers Ann (reused) plus Bob.
        var paid = await SubmitAsync(Manual("emails", Ann, Bob));
        Assert.Equal(2, paid.Count);
        Assert.Equal(0m, Lance.Settings.Credits);
    }

    [Fact]
    public async Task FailedRecordIsNotReused()
    {
        Lance.SetOutcome(Ann, "emails", LanceOutcome.Failed);
        var first = Assert.Single(await SubmitAsync(Manual("emails", Ann)));
        clock.Advance(TimeSpan.FromSeconds(1));
        var failed = Assert.Single(await QueryAsync(TaskFor(Ann, "emails")));
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Equal("Provider error", failed.GetProperty("error").GetString());
        Assert.False(failed.GetProperty("dataFound").GetBoolean());

        var second = Assert.Single(await SubmitAsync(Manual("emails", Ann)));

        Assert.NotEqual(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal("pending", second.GetProperty("status").GetString());
        Assert.Equal(2, Lance.Counters.Charges[$"{Ann}:emails"]);
        // The query shows the latest record.
        Assert.Equal(second.GetProperty("id").GetString(), Assert.Single(await QueryAsync(TaskFor(Ann, "emails"))).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData(LanceOutcome.Timeout, "timeout")]
    [InlineData(LanceOutcome.Cancelled, "cancelled")]
    public async Task TimeoutAndCancelledAreTerminalWithoutDataAndNotReused(LanceOutcome outcome, string status)
    {
        Lance.SetOutcome(Ann, "phones", outcome);
        var first = Assert.Single(await SubmitAsync(Manual("phones", Ann)));
        clock.Advance(TimeSpan.FromSeconds(1));

        var ended = Assert.Single(await QueryAsync(TaskFor(Ann, "phones")));
        Assert.Equal(status, ended.GetProperty("status").GetString());
        Assert.False(ended.GetProperty("dataFound").GetBoolean());
        Assert.Empty((await PersonAsync(Ann)).GetProperty("phones").EnumerateArray());
        var second = Assert.Single(await SubmitAsync(Manual("phones", Ann)));
        Assert.NotEqual(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
    }

    [Fact]
    public async Task QueryOmitsTasksWithoutARecordAndOmittedOnes()
    {
        Lance.SetOutcome(Bob, "emails", LanceOutcome.Omitted);
        await SubmitAsync(Manual("emails", Ann, Bob));
        clock.Advance(TimeSpan.FromSeconds(10));

        var found = await QueryAsync(TaskFor(Ann, "emails"), TaskFor(Bob, "emails"), TaskFor(Ann, "phones"), TaskFor(Cid, "emails"),
            TaskFor(Ann, "summary"), new JsonObject { ["entityId"] = Ann, ["field"] = "emails", ["entityType"] = "company" });

        var only = Assert.Single(found);
        Assert.Equal(Ann, only.GetProperty("entityId").GetString());
        Assert.Equal("emails", only.GetProperty("field").GetString());
        // The omitted one stays pending, and a resubmit reuses it.
        Assert.Equal("pending", Lance.Enrichments.Single(e => e.EntityId == Bob).Status);
        Assert.Equal("pending", (await SubmitAsync(Manual("emails", Bob)))[0].GetProperty("status").GetString());
        Assert.Equal(6, Lance.Counters.LargestQuery);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(201)]
    public async Task QueryWithNoOrTooManyTasksAnswers400(int count)
    {
        var tasks = new JsonArray(Enumerable.Range(0, count).Select(_ => (JsonNode)TaskFor(Ann, "emails")).ToArray());

        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/batch/query", new JsonObject { ["tasks"] = tasks });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("VALIDATION_ERROR", await ErrorCodeAsync(response));
    }

    [Fact]
    public async Task QueryAcceptsTwoHundredTasks()
    {
        var tasks = new JsonArray(Enumerable.Range(0, 200).Select(_ => (JsonNode)TaskFor(Ann, "emails")).ToArray());

        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/batch/query", new JsonObject { ["tasks"] = tasks });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task BulkModeSelectsFromTheSeededPersonsInIdOrder()
    {
        Lance.AddPerson(Eve, "Eve", "Evans");
        Lance.AddPerson(Dee, "Dee", "Dunn");
        Lance.AddPerson(Cid, "Cid", "Cole");
        // Persons created on the fly by a manual submit are not part of the search.
        await SubmitAsync(Manual("emails", "00000000-0000-4000-8000-000000000000"));

        var selected = await SubmitAsync(new JsonObject
        {
            ["selection"] = new JsonObject
            {
                ["mode"] = "bulk",
                ["startIndex"] = 1,
                ["targetCount"] = 2,
                ["excludedIds"] = new JsonArray(Cid),
                ["filters"] = new JsonObject { ["contact"] = new JsonObject() },
            },
            ["field"] = "phones",
        });

        // Ann, Bob, [Cid excluded], Dee, Eve → from index 1, two: Bob, Dee.
        Assert.Equal([Bob, Dee], selected.Select(e => e.GetProperty("entityId").GetString()));
        Assert.All(selected, e => Assert.Equal("phones", e.GetProperty("field").GetString()));

        var rest = await SubmitAsync(new JsonObject
        {
            ["selection"] = new JsonObject { ["mode"] = "bulk", ["startIndex"] = 3, ["targetCount"] = 1000, ["filters"] = new JsonObject() },
            ["field"] = "phones",
        });
        Assert.Equal([Dee, Eve], rest.Select(e => e.GetProperty("entityId").GetString()));
        Assert.Equal(1, Lance.Counters.EnrichmentsReused);
    }

    [Fact]
    public async Task FailedSubmitsAnswerTheStatusAndCreateNothing()
    {
        Lance.FailNextSubmits(1, 503);

        using (var failed = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Ann)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal("INTERNAL_ERROR", await ErrorCodeAsync(failed));
        }
        Assert.Empty(Lance.Enrichments);

        Assert.Single(await SubmitAsync(Manual("emails", Ann)));
    }

    [Fact]
    public async Task ControlApiDrivesTheSimulatorAndResetClearsIt()
    {
        using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
        using (var settings = await control.PostAsJsonAsync("sandbox/lance/settings", new { processingDelayMs = 2000, credits = 50, preexistingContacts = true }))
        {
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), Lance.Settings.ProcessingDelay);
            Assert.Equal(50m, Lance.Settings.Credits);
        }
        using (var typo = await control.PostAsJsonAsync("sandbox/lance/settings", new { credit = 5 }))
            Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        using (var added = await control.PostAsJsonAsync("sandbox/lance/persons", new { id = Cid, firstName = "Cid", lastName = "Cole" }))
        {
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
            Assert.Single((await added.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("emails").EnumerateArray());
        }
        using (var outcome = await control.PutAsJsonAsync($"sandbox/lance/persons/{Cid}/outcomes/emails", new { outcome = "notFound" }))
            Assert.Equal(HttpStatusCode.NoContent, outcome.StatusCode);
        using (var badField = await control.PutAsJsonAsync($"sandbox/lance/persons/{Cid}/outcomes/summary", new { outcome = "notFound" }))
            Assert.Equal(HttpStatusCode.BadRequest, badField.StatusCode);
        using (var faults = await control.PostAsJsonAsync("sandbox/lance/faults", new { failNextSubmits = 1, statusCode = 500 }))
            Assert.Equal(HttpStatusCode.NoContent, faults.StatusCode);

        using (var failed = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Cid)))
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        await SubmitAsync(Manual("emails", Cid));
        clock.Advance(TimeSpan.FromSeconds(2));
        var enrichments = await control.GetFromJsonAsync<JsonElement>("sandbox/lance/enrichments");
        Assert.Equal("finished", enrichments[0].GetProperty("status").GetString());
        Assert.False(enrichments[0].GetProperty("dataFound").GetBoolean());
        var counters = await control.GetFromJsonAsync<JsonElement>("sandbox/lance/counters");
        Assert.Equal(2, counters.GetProperty("bulkCalls").GetInt32());
        Assert.Equal(1, counters.GetProperty("charges").GetProperty($"{Cid}:emails").GetInt32());

        using (var reset = await control.PostAsync("sandbox/reset", null))
            Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        Assert.Empty(Lance.Enrichments);
        Assert.Equal(0, Lance.Counters.BulkCalls);
        Assert.Equal(1_000_000m, Lance.Settings.Credits);
        using var gone = await http.GetAsync($"api/v1/entities/prospects/person/{Cid}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task IdMarkedInvalidRefusesTheWholeCallWith400AndTheOthersAloneGoThrough()
    {
        Lance.MarkInvalid(Bob);

        using (var refused = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Ann, Bob, Cid)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("VALIDATION_ERROR", await ErrorCodeAsync(refused));
        }
        Assert.Empty(Lance.Enrichments);
        Assert.Empty(Lance.Counters.Submissions);

        Assert.Equal(2, (await SubmitAsync(Manual("emails", Ann, Cid))).Count);
        Assert.Equal(2m, Lance.Counters.CreditsCharged);
    }

    [Fact]
    public async Task ChargedOnlyWhenDataIsFoundUnderTheBatchPagesReading()
    {
        Lance.Settings.Charging = LanceCharging.OnDataFound;
        Lance.SetOutcome(Bob, "emails", LanceOutcome.NotFound);

        var submitted = await SubmitAsync(Manual("emails", Ann, Bob));
        Assert.All(submitted, e => Assert.Equal(JsonValueKind.Null, e.GetProperty("creditTransactionId").ValueKind));
        Assert.Equal(0m, Lance.Counters.CreditsCharged);

        clock.Advance(TimeSpan.FromSeconds(1));
        var done = (await QueryAsync(TaskFor(Ann, "emails"), TaskFor(Bob, "emails"))).ToDictionary(e => e.GetProperty("entityId").GetString()!);
        Assert.False(string.IsNullOrEmpty(done[Ann].GetProperty("creditTransactionId").GetString()));
        Assert.Equal(JsonValueKind.Null, done[Bob].GetProperty("creditTransactionId").ValueKind);
        var counters = Lance.Counters;
        Assert.Equal(1m, counters.CreditsCharged);
        Assert.Equal(1, Assert.Single(counters.Charges).Value);
        Assert.Equal(999_999m, Lance.Settings.Credits);

        // Credits are still checked at submit for the new records.
        Lance.Settings.Credits = 0;
        using var shortOfCredits = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("phones", Ann));
        Assert.Equal(HttpStatusCode.PaymentRequired, shortOfCredits.StatusCode);
    }

    [Theory]
    [InlineData(LanceErrorBody.Flat)]
    [InlineData(LanceErrorBody.PlainText)]
    public async Task ErrorBodiesTakeTheShapeAsked(LanceErrorBody shape)
    {
        Lance.Settings.ErrorBody = shape;

        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", "not-a-uuid"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        if (shape == LanceErrorBody.Flat)
        {
            var body = JsonDocument.Parse(text).RootElement;
            Assert.Equal("VALIDATION_ERROR", body.GetProperty("code").GetString());
            Assert.Contains("not a uuid", body.GetProperty("message").GetString());
        }
        else
        {
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("selection.includedIds: '\"not-a-uuid\"' is not a uuid.", text);
        }
    }

    [Fact]
    public async Task QueryCanAnswerEveryRecordOfATaskInAnyOrder()
    {
        Lance.Settings.QueryReturnsEveryRecord = true;
        Lance.Settings.QueryOrder = LanceQueryOrder.Shuffled;
        Lance.SetOutcome(Ann, "emails", LanceOutcome.Failed);
        var failed = Assert.Single(await SubmitAsync(Manual("emails", Ann))).GetProperty("id").GetString();
        clock.Advance(TimeSpan.FromSeconds(1));
        var fresh = Assert.Single(await SubmitAsync(Manual("emails", Ann))).GetProperty("id").GetString();
        await SubmitAsync(Manual("emails", Bob, Cid, Dee, Eve));

        var orders = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var answer = await QueryAsync(new[] { Ann, Bob, Cid, Dee, Eve }.Select(p => TaskFor(p, "emails")).ToArray());
            Assert.Equal(6, answer.Count);
            var annsRecords = answer.Where(e => e.GetProperty("entityId").GetString() == Ann).Select(e => e.GetProperty("id").GetString()!).Order().ToList();
            Assert.Equal(new[] { failed!, fresh! }.Order().ToList(), annsRecords);
            orders.Add(string.Join(",", answer.Select(e => e.GetProperty("id").GetString())));
        }
        Assert.True(orders.Distinct().Count() > 1, "the order never changed");
    }

    [Fact]
    public async Task OpaqueIdsAreNotUuids()
    {
        Lance.Settings.RecordIds = LanceIdFormat.Opaque;

        var submitted = Assert.Single(await SubmitAsync(Manual("emails", Ann)));

        Assert.StartsWith("enr_", submitted.GetProperty("id").GetString());
        Assert.False(Guid.TryParse(submitted.GetProperty("id").GetString(), out _));
        Assert.False(string.IsNullOrEmpty(submitted.GetProperty("creditTransactionId").GetString()));
    }

    [Fact]
    public async Task UnknownPersonReadAnswersTheStatusAsked()
    {
        Lance.Settings.UnknownPersonReadStatus = 400;

        using var response = await http.GetAsync($"api/v1/entities/prospects/person/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("VALIDATION_ERROR", await ErrorCodeAsync(response));
        Assert.Throws<ArgumentOutOfRangeException>(() => Lance.Settings.UnknownPersonReadStatus = 500);
    }

    [Theory]
    [InlineData(LanceUnknownIds.Create)]
    [InlineData(LanceUnknownIds.Refuse)]
    [InlineData(LanceUnknownIds.Skip)]
    public async Task IdsOfNobodyAreCreatedRefusedOrSkippedAsAsked(LanceUnknownIds unknownIds)
    {
        Lance.Settings.UnknownIds = unknownIds;
        var nobody = "0f0e0d0c-1111-4222-8333-444455556666";

        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Ann, nobody));

        if (unknownIds == LanceUnknownIds.Refuse)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Empty(Lance.Enrichments);
            return;
        }
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Select(e => e.GetProperty("entityId").GetString()).ToList();
        Assert.Equal(unknownIds == LanceUnknownIds.Create ? [Ann, nobody] : [Ann], answered);
        Assert.Equal(answered.Count, Lance.Enrichments.Count);
    }

    [Fact]
    public async Task PersonReadFaultsAnswerTheStatusThenClear()
    {
        Lance.FailPersonReads(Ann, 2, 503);

        for (var i = 0; i < 2; i++)
        {
            using var failed = await http.GetAsync($"api/v1/entities/prospects/person/{Ann}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }
        Assert.Equal("Ann", (await PersonAsync(Ann)).GetProperty("firstName").GetString());
        Assert.Equal(3, Lance.Counters.PersonReads);
    }

    [Fact]
    public void DocumentedOnlyTurnsEveryOpenReadingToItsLeastConvenient()
    {
        Lance.Settings.UseDocumentedOnly();

        var s = Lance.Settings;
        Assert.Equal(LanceCharging.OnDataFound, s.Charging);
        Assert.Equal(LanceErrorBody.PlainText, s.ErrorBody);
        Assert.Equal(LanceQueryOrder.Shuffled, s.QueryOrder);
        Assert.True(s.QueryReturnsEveryRecord);
        Assert.Equal(LanceIdFormat.Opaque, s.RecordIds);
        Assert.Equal(400, s.UnknownPersonReadStatus);
        // Test data, not a vendor reading: ids come from Lance's own search.
        Assert.Equal(LanceUnknownIds.Create, s.UnknownIds);

        Lance.Reset();
        Assert.Equal(LanceCharging.AtSubmit, s.Charging);
        Assert.Equal(LanceErrorBody.Nested, s.ErrorBody);
        Assert.Equal(404, s.UnknownPersonReadStatus);
    }

    [Fact]
    public async Task ControlApiSetsTheVendorReadingsAndFaultsPerPerson()
    {
        using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
        using (var settings = await control.PostAsJsonAsync("sandbox/lance/settings", new { documentedOnly = true, errorBody = "nested" }))
        {
            Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
            var view = await settings.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("onDataFound", view.GetProperty("charging").GetString());
            Assert.Equal("nested", view.GetProperty("errorBody").GetString());
            Assert.Equal("opaque", view.GetProperty("recordIds").GetString());
            Assert.Equal(400, view.GetProperty("unknownPersonReadStatus").GetInt32());
        }
        using (var bad = await control.PostAsJsonAsync("sandbox/lance/settings", new { unknownPersonReadStatus = 500 }))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using (var invalid = await control.PostAsync($"sandbox/lance/persons/{Bob}/invalid", null))
            Assert.Equal(HttpStatusCode.NoContent, invalid.StatusCode);
        using (var fault = await control.PostAsJsonAsync($"sandbox/lance/persons/{Ann}/read-faults", new { count = 1, statusCode = 502 }))
            Assert.Equal(HttpStatusCode.NoContent, fault.StatusCode);
        using (var noCount = await control.PostAsJsonAsync($"sandbox/lance/persons/{Ann}/read-faults", new { statusCode = 502 }))
            Assert.Equal(HttpStatusCode.BadRequest, noCount.StatusCode);

        using (var refused = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", Manual("emails", Ann, Bob)))
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using (var read = await http.GetAsync($"api/v1/entities/prospects/person/{Ann}"))
            Assert.Equal(HttpStatusCode.BadGateway, read.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"api/v1/entities/prospects/person/{Ann}")).StatusCode);
    }

    static JsonObject Manual(string field, params string[] ids) => new()
    {
        ["selection"] = new JsonObject { ["mode"] = "manual", ["includedIds"] = new JsonArray(ids.Select(id => (JsonNode)id).ToArray()) },
        ["field"] = field,
    };

    static JsonObject TaskFor(string entityId, string field) => new() { ["entityId"] = entityId, ["field"] = field, ["entityType"] = "person" };

    async Task<List<JsonElement>> SubmitAsync(JsonObject body)
    {
        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
    }

    async Task<List<JsonElement>> QueryAsync(params JsonObject[] tasks)
    {
        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/batch/query",
            new JsonObject { ["tasks"] = new JsonArray(tasks.Select(t => (JsonNode)t).ToArray()) });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
    }

    async Task<JsonElement> PersonAsync(string id)
    {
        using var response = await http.GetAsync($"api/v1/entities/prospects/person/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    static async Task<string?> ErrorCodeAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString();
}
