using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// The relay's HTTP surface: intake, status, the Precept webhook's door, health and OpenAPI. These tests look only at
/// requests of their own, so they share one relay; those that read the sandbox's totals or switch its webhooks off
/// are <see cref="HttpApiOnItsOwnRelayTests"/>.
/// </summary>
public sealed class HttpApiTests(HttpApiTests.SharedRelay relay, ITestOutputHelper output) : IClassFixture<HttpApiTests.SharedRelay>
{
    /// <summary>The relay (PostgreSQL) and sandbox the tests of this class share.</summary>
    public sealed class SharedRelay : IAsyncLifetime
    {
        public RelayScenario Scenario { get; private set; } = null!;

        public async Task InitializeAsync() => Scenario = await StartRelayAsync();

        public async Task DisposeAsync() => await Scenario.DisposeAsync();
    }

    RelayScenario Scenario => relay.Scenario;
    HttpClient Http => Scenario.Relay.Http;

    internal static Task<RelayScenario> StartRelayAsync() =>
        RelayScenario.StartAsync(Engine.Postgres, sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50));

    internal const string ValidBody = """
        {"lead":{"firstName":"Jane","lastName":"Http","companyName":"Acme","companyDomain":"acme.com"},
         "fields":["email"],"correlationData":{"crmId":"0031t00000AbCdE"}}
        """;

    [Fact]
    public async Task PostingWithoutRequestIdIsAcceptedAndTheResultIsReadableAtTheLocation()
    {
        using var response = await Http.PostAsync("enrichments", Json(ValidBody));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.Matches("^/enrichments/[0-9a-f-]{36}$", location);
        var requestId = Guid.Parse(location["/enrichments/".Length..]);

        var done = await Eventually.ReturnsAsync(() => Http.GetFromJsonAsync<JsonElement>(location),
            s => s.GetProperty("state").GetString() == "completed", TimeSpan.FromSeconds(60), "the request to complete");
        Assert.Equal(requestId, done.GetProperty("requestId").GetGuid());
        Assert.Equal("found", done.GetProperty("outcome").GetString());
        Assert.Equal("jane.http@acme.com", done.GetProperty("emails")[0].GetString());
        Assert.False(string.IsNullOrEmpty(done.GetProperty("providerJobId").GetString()));
        Assert.Equal("precept", done.GetProperty("attempts")[0].GetProperty("provider").GetString());
        Assert.Equal("0031t00000AbCdE", done.GetProperty("correlationData").GetProperty("crmId").GetString());

        // The subscriber heard it once, too.
        await Scenario.Bus.WaitForCompletionsAsync([requestId], TimeSpan.FromSeconds(30));
        Assert.Equal(Outcome.Found, Assert.Single(Scenario.Bus.Completions[requestId]).Outcome);
    }

    [Fact]
    public async Task InvalidRequestIsA400ProblemListingEachError()
    {
        using var response = await Http.PostAsync("enrichments", Json("""{"lead":{"companyName":"Acme"},"fields":[]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("fields", out _));
        Assert.True(errors.TryGetProperty("lead", out _));
    }

    [Fact]
    public async Task ALinkedInUrlWithoutItsSchemeAsLeadFinderGivesItIsAcceptedAndStoredAndSentCanonical()
    {
        using var response = await Http.PostAsync("enrichments",
            Json("""{"lead":{"linkedInUrl":"linkedin.com/in/erlich-bachman-404xyz"},"fields":["email"]}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var requestId = Guid.Parse(response.Headers.Location!.ToString()["/enrichments/".Length..]);
        await Scenario.Bus.WaitForCompletionsAsync([requestId], TimeSpan.FromSeconds(60));
        Assert.Equal(ProviderName.Precept, Assert.Single(Scenario.Bus.Completions[requestId]).Provider);

        const string Canonical = "https://www.linkedin.com/in/erlich-bachman-404xyz";
        var stored = JsonDocument.Parse(await StoredRequestJsonAsync(requestId)).RootElement;
        Assert.Equal(Canonical, stored.GetProperty("lead").GetProperty("linkedInUrl").GetString());
        Assert.Contains(Canonical, Scenario.Sandbox.Precept.Counters.LeadSubmissions.Keys);
    }

    [Fact]
    public async Task IdentifiersAProviderWouldRefuseAreRefusedAtTheDoorWithTheFieldNamed()
    {
        using var response = await Http.PostAsync("enrichments", Json("""
            {"lead":{"linkedInUrl":"https://www.linkedin.com/company/bachmanity","lancePersonId":"person-42",
                     "woodpeckerLead":{"uid":"u-1","job_title_levels":"Cxo"}},"fields":["email"]}
            """));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Contains("company page", errors.GetProperty("lead.linkedInUrl")[0].GetString());
        Assert.Contains("UUID", errors.GetProperty("lead.lancePersonId")[0].GetString());
        Assert.Contains("array of strings", errors.GetProperty("lead.woodpeckerLead.job_title_levels")[0].GetString());
    }

    [Fact]
    public async Task ALancePersonIdInAnyGuidSpellingIsStoredAsALowerCaseUuid()
    {
        const string PersonId = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
        Scenario.Sandbox.Lance.AddPerson(PersonId, "Ann", "Braces");

        using var response = await Http.PostAsync("enrichments",
            Json($$"""{"lead":{"lancePersonId":"{{{PersonId.ToUpperInvariant()}}}"},"fields":["email"]}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var requestId = Guid.Parse(response.Headers.Location!.ToString()["/enrichments/".Length..]);
        await Scenario.Bus.WaitForCompletionsAsync([requestId], TimeSpan.FromSeconds(60));
        var completed = Assert.Single(Scenario.Bus.Completions[requestId]);
        Assert.Equal(ProviderName.Lance, completed.Provider);
        // Lance takes only the hyphenated form (a braced id would be a 400 VALIDATION_ERROR).
        Assert.NotEqual(Outcome.Rejected, completed.Outcome);
        var stored = JsonDocument.Parse(await StoredRequestJsonAsync(requestId)).RootElement;
        Assert.Equal(PersonId, stored.GetProperty("lead").GetProperty("lancePersonId").GetString());
    }

    async Task<string> StoredRequestJsonAsync(Guid requestId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Scenario.Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new Npgsql.NpgsqlCommand("SELECT \"RequestJson\" FROM enrichment_requests WHERE \"RequestId\" = @id", connection);
        query.Parameters.AddWithValue("id", requestId);
        return (string)(await query.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task UnknownRequestIs404()
    {
        using var response = await Http.GetAsync($"enrichments/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task WebhookWithAnUnknownTokenIs404()
    {
        using var response = await Http.PostAsync("webhooks/precept/not-a-token", Json("""{"enrichment_id":"x","results":[]}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task HealthTheOpenApiDocumentAndItsReferenceAreServed()
    {
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("health/ready")).StatusCode);
        var openApi = await Http.GetFromJsonAsync<JsonElement>("openapi/v1.json");
        var paths = openApi.GetProperty("paths");
        string[] documented = ["/enrichments", "/enrichments/{requestId}", "/selections", "/selections/{selectionId}",
            "/webhooks/precept/{token}", "/health/live", "/health/ready", "/metrics"];
        Assert.All(documented, path => Assert.True(paths.TryGetProperty(path, out _), path));

        // Every operation says what it does, and every request body comes with an example.
        var operations = 0;
        foreach (var path in paths.EnumerateObject())
            foreach (var operation in path.Value.EnumerateObject())
            {
                operations++;
                var where = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                Assert.False(string.IsNullOrWhiteSpace(operation.Value.GetProperty("summary").GetString()), where);
                Assert.False(string.IsNullOrWhiteSpace(operation.Value.GetProperty("description").GetString()), where);
                if (operation.Value.TryGetProperty("requestBody", out var body))
                    Assert.All(body.GetProperty("content").EnumerateObject(), media =>
                        Assert.True(media.Value.TryGetProperty("examples", out var examples) && examples.EnumerateObject().Any(), $"{where} {media.Name}"));
                var responseExamples = operation.Value.GetProperty("responses").EnumerateObject()
                    .SelectMany(r => r.Value.TryGetProperty("content", out var content) ? content.EnumerateObject() : [])
                    .Count(m => m.Value.TryGetProperty("examples", out _));
                Assert.True(responseExamples > 0 || operation.Name == "post" && path.Name.StartsWith("/webhooks/"), $"{where} has no response example");
            }
        output.WriteLine($"[figure] OpenAPI: {operations} operations, each with a summary, a description and examples");

        await TheApiReferenceIsServedWithItsOwnScriptAndNoCdnAsync();
    }

    /// <summary>Part of the test above (one relay less to start): the reference UI at /scalar/.</summary>
    async Task TheApiReferenceIsServedWithItsOwnScriptAndNoCdnAsync()
    {
        using var page = await Http.GetAsync("scalar/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();

        // Every script the page loads is the relay's own, and it answers.
        var scripts = System.Text.RegularExpressions.Regex.Matches(html, "<script[^>]*\\ssrc=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(scripts);
        foreach (var script in scripts)
        {
            Assert.False(Uri.TryCreate(script, UriKind.Absolute, out var absolute) && absolute.Scheme.StartsWith("http"), $"{script} is not served by the relay");
            using var js = await Http.GetAsync(new Uri(new Uri(Http.BaseAddress!, "scalar/"), script));
            Assert.Equal(HttpStatusCode.OK, js.StatusCode);
            Assert.Contains("javascript", js.Content.Headers.ContentType!.MediaType);
            Assert.True((await js.Content.ReadAsByteArrayAsync()).Length > 1000, script);
        }
        Assert.DoesNotContain("cdn.jsdelivr.net", html);
        Assert.Contains("\"withDefaultFonts\":false", html); // Scalar's default fonts come from its CDN
        Assert.Contains("openapi/v1.json", html);
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}

/// <summary>The HTTP surface where a test reads the sandbox's totals or switches its webhooks off: a relay and sandbox of its own each.</summary>
[RunsLong(80)]
public sealed class HttpApiOnItsOwnRelayTests(ITestOutputHelper output) : IAsyncLifetime
{
    RelayScenario scenario = null!;
    HttpClient Http => scenario.Relay.Http;

    public async Task InitializeAsync() => scenario = await HttpApiTests.StartRelayAsync();

    public async Task DisposeAsync()
    {
        output.WriteLine(scenario.Relay.LogTail(40));
        await scenario.DisposeAsync();
    }

    [Fact]
    public async Task PostingTheSameRequestIdTwiceSubmitsAndCompletesOnce()
    {
        var requestId = Guid.NewGuid();
        var body = HttpApiTests.ValidBody.Replace("{\"lead\"", $"{{\"requestId\":\"{requestId}\",\"lead\"");

        using var first = await Http.PostAsync("enrichments", HttpApiTests.Json(body));
        using var second = await Http.PostAsync("enrichments", HttpApiTests.Json(body));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        await scenario.Bus.WaitForCompletionsAsync([requestId], TimeSpan.FromSeconds(60));
        Assert.Single(scenario.Bus.Completions[requestId]);
        Assert.Equal(1, scenario.Sandbox.Precept.Counters.LeadsAccepted);
    }

    [Fact]
    public async Task WebhookBodiesAreCheckedForSizeAndShapeAndDuplicatesChangeNothing()
    {
        // A real job gives a real callback URL (the token is only ever in the URL Precept was given).
        scenario.Sandbox.Precept.Settings.DropWebhooks = true;
        using var post = await Http.PostAsync("enrichments", HttpApiTests.Json(HttpApiTests.ValidBody));
        var location = post.Headers.Location!.ToString();
        var job = await Eventually.ReturnsAsync(() => Task.FromResult(scenario.Sandbox.Precept.Jobs.FirstOrDefault()),
            j => j is not null && j.Status == "completed", TimeSpan.FromSeconds(30), "the sandbox job");
        var webhook = new Uri(job!.WebhookUrl!).PathAndQuery.TrimStart('/');

        using (var tooLarge = await Http.PostAsync(webhook, HttpApiTests.Json(new string(' ', 1024 * 1024 + 1))))
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        using (var malformed = await Http.PostAsync(webhook, HttpApiTests.Json("{\"enrichment_id\": ")))
            Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        // The callback Precept would have sent, delivered three times: one completion.
        var callback = JsonSerializer.Serialize(new { enrichment_id = job.EnrichmentId, status = "completed", results = job.Results });
        for (var i = 0; i < 3; i++)
        {
            using var delivered = await Http.PostAsync(webhook, HttpApiTests.Json(callback));
            Assert.Equal(HttpStatusCode.Accepted, delivered.StatusCode);
        }

        var requestId = Guid.Parse(location["/enrichments/".Length..]);
        await scenario.Bus.WaitForCompletionsAsync([requestId], TimeSpan.FromSeconds(30));
        scenario.Sandbox.Precept.Settings.DropWebhooks = false;
        using var sentinel = await Http.PostAsync("enrichments", HttpApiTests.Json(HttpApiTests.ValidBody.Replace("Http", "Sentinel")));
        var sentinelId = Guid.Parse(sentinel.Headers.Location!.ToString()["/enrichments/".Length..]);
        await scenario.Bus.WaitForCompletionsAsync([sentinelId], TimeSpan.FromSeconds(60));
        Assert.Single(scenario.Bus.Completions[requestId]);
    }

    [Fact]
    public async Task ARequestAwaitingItsCallbackShowsAsOpenInTheMetrics()
    {
        // PostgreSQL here: the ledger gauges' grouped query runs on both engines (SQLite in MetricsTests).
        scenario.Sandbox.Precept.Settings.DropWebhooks = true;
        using var post = await Http.PostAsync("enrichments", HttpApiTests.Json(HttpApiTests.ValidBody));
        Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);

        var scrape = await Eventually.ReturnsAsync(() => PrometheusScrape.FetchAsync(Http),
            s => s.Sum("relay_requests_open", ("provider", "precept"), ("state", "submitted")) == 1, TimeSpan.FromSeconds(30),
            "the open request in the gauges");
        Assert.True(scrape.Sum("relay_requests_oldest_open_age_seconds", ("provider", "precept")) >= 0);
        Assert.Equal(0, scrape.Sum("relay_requests_open", ("provider", "woodpecker")));
        Assert.DoesNotContain("Reading the ledger gauges failed", scenario.Relay.LogText);
    }
}
