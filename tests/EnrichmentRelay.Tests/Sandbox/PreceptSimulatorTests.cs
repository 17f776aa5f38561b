using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Precept;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>The Precept simulator over real HTTP on loopback, against the behaviour providers.md §2.6 lists.</summary>
public sealed class PreceptSimulatorTests : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    HttpClient http = null!;
    WebhookReceiver receiver = null!;
    PreceptSimulator Precept => sandbox.Precept;

    public async Task InitializeAsync()
    {
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { PreceptApiKey = "test-key" });
        Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(30);
        Precept.Settings.WebhookRetryBaseDelay = TimeSpan.FromMilliseconds(20);
        http = new HttpClient { BaseAddress = sandbox.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "test-key");
        receiver = await WebhookReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await receiver.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    [Fact]
    public async Task SubmitWithoutCredentialsAnswers401()
    {
        using var anonymous = new HttpClient { BaseAddress = sandbox.BaseAddress };
        using var response = await anonymous.PostAsJsonAsync("v1/leads/enrich", Body(Lead("a")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Unauthorized", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    public static TheoryData<string> InvalidBodies => new()
    {
        """{"leads":[]}""",
        """{"leads":[{"firstName":"Jane","lastName":"Doe"}]}""",
        """{"leads":[{"linkedinUrl":"https://linkedin.com/in/a","customData":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"}}]}""",
        $$$"""{"leads":[{"linkedinUrl":"https://linkedin.com/in/a","customData":{"a":"{{{new string('x', 101)}}}"}}]}""",
        """{"leads":[{"linkedinUrl":"https://linkedin.com/in/a","enrichType":["faxes"]}]}""",
        """{"leads": [""",
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidSubmitsAnswer400WithAnError(string body)
    {
        using var response = await http.PostAsync("v1/leads/enrich", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(string.IsNullOrEmpty((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()));
        Assert.Equal(0, Precept.Counters.JobsCreated);
    }

    [Fact]
    public async Task MoreThanAThousandLeadsAnswer400()
    {
        var leads = Enumerable.Range(0, 1001).Select(i => Lead($"l{i}")).ToArray();
        using var response = await http.PostAsJsonAsync("v1/leads/enrich", Body(leads));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task NoCreditsAnswers402AndCreatesNothing()
    {
        Precept.Settings.Credits = 0;

        using var response = await http.PostAsJsonAsync("v1/leads/enrich", Body(Lead("a")));

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        Assert.Equal("Not enough credits", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(0, Precept.Counters.JobsCreated);
    }

    [Fact]
    public async Task ShortCreditsCapTheJobAndListTheUnprocessedLeads()
    {
        Precept.Settings.Credits = 2 * 12 + 3; // each lead may cost 12 (1 + email 1 + phone 10)

        using var response = await http.PostAsJsonAsync("v1/leads/enrich", Body(Lead("a"), Lead("b"), Lead("c"), Lead("d")));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, answer.GetProperty("finalLimit").GetInt32());
        var unprocessed = answer.GetProperty("unprocessed").EnumerateArray().Select(l => l.GetProperty("lastName").GetString()).ToList();
        Assert.Equal(["c", "d"], unprocessed);
        Assert.Equal(2, Precept.Counters.LeadsAccepted);
        Assert.Equal(2, Precept.Counters.LeadsRejectedByCreditCap);
    }

    [Fact]
    public async Task JobMovesToCompletedWithPerLeadOutcomesAndCharges()
    {
        Precept.SetOutcome("email", LeadOutcome.EmailOnly);
        Precept.SetOutcome("none", LeadOutcome.NoContact);
        Precept.SetOutcome("missing", LeadOutcome.NotFound);
        Precept.SetOutcome("skip", LeadOutcome.Skipped);
        var id = await SubmitAsync(Body(Lead("both"), Lead("email"), Lead("none"), Lead("missing"), Lead("skip")));

        var job = await WaitForJobAsync(id);

        Assert.Equal(5, job.GetProperty("progress").GetProperty("total").GetInt32());
        Assert.Equal(1, job.GetProperty("progress").GetProperty("skipped").GetInt32());
        var results = job.GetProperty("results").EnumerateArray().ToDictionary(r => r.GetProperty("last_name").GetString()!);
        Assert.Equal(4, results.Count);
        Assert.Equal("jane.both@acme.com", results["both"].GetProperty("enrich_email").GetString());
        Assert.StartsWith("+1555", results["both"].GetProperty("enrich_phone").GetString());
        Assert.Equal(JsonValueKind.Null, results["email"].GetProperty("enrich_phone").ValueKind);
        Assert.Equal(JsonValueKind.Null, results["none"].GetProperty("enrich_email").ValueKind);
        Assert.Equal("Lead not found", results["missing"].GetProperty("error").GetString());
        Assert.Equal("both", results["both"].GetProperty("custom_data").GetProperty("rid").GetString());
        // 4 processed leads x 1 + 2 emails x 1 + 1 phone x 10
        Assert.Equal(16m, job.GetProperty("cost").GetProperty("credits").GetDecimal());
        Assert.Equal(16m, Precept.Counters.CreditsCharged);
    }

    [Fact]
    public async Task CamelCaseNamingEmitsEnrichEmailAndCustomData()
    {
        Precept.Settings.ContactFieldNaming = ContactFieldNaming.Camel;
        var job = await WaitForJobAsync(await SubmitAsync(Body(Lead("a"))));

        var item = job.GetProperty("results")[0];
        Assert.Equal("jane.a@acme.com", item.GetProperty("enrichEmail").GetString());
        Assert.Equal("a", item.GetProperty("customData").GetProperty("rid").GetString());
        Assert.False(item.TryGetProperty("enrich_email", out _));
    }

    [Fact]
    public async Task WebhookIsRetriedAfterAnErrorAndCanBeDuplicated()
    {
        receiver.FailFirst = 1;
        Precept.Settings.DuplicateDeliveries = 1;

        var id = await SubmitAsync(Body(receiver.Url, Lead("a")));

        await Until(() => receiver.Received.Count >= 3, "a failed attempt, a delivery and a duplicate");
        Assert.All(receiver.Received, body => Assert.Equal(id, body["enrichment_id"]!.GetValue<string>()));
        Assert.Equal("completed", receiver.Received.Last()["status"]!.GetValue<string>());
        Assert.Equal(3, Precept.Counters.WebhookAttempts);
        Assert.Equal(2, Precept.Counters.WebhookDeliveries);
    }

    [Fact]
    public async Task StreamingSendsOneCallbackPerLead()
    {
        var body = Body(receiver.Url, Lead("a"), Lead("b"), Lead("c"));
        body["streamingResults"] = true;

        await SubmitAsync(body);

        await Until(() => receiver.Received.Count >= 3, "three streamed callbacks");
        Assert.All(receiver.Received, b => Assert.Single(b["results"]!.AsArray()));
    }

    [Fact]
    public async Task FailedJobReportsFailedWithNoResultsAndNoLeadCharges()
    {
        Precept.FailNextJobs(1);
        var id = await SubmitAsync(Body(receiver.Url, Lead("a")));

        var job = await WaitForJobAsync(id);

        Assert.Equal("failed", job.GetProperty("status").GetString());
        await Until(() => receiver.Received.Count >= 1, "the failure callback");
        Assert.Equal("failed", receiver.Received.Single()["status"]!.GetValue<string>());
        Assert.Equal(0m, Precept.Counters.CreditsCharged);
    }

    [Fact]
    public async Task DroppedConnectionStillCreatesTheJobFindableByName()
    {
        Precept.DropConnectionAfterAcceptNext(1);
        var body = Body(Lead("a"));
        body["name"] = "relay-unique-name";

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.PostAsJsonAsync("v1/leads/enrich", body));

        Assert.Equal(1, Precept.Counters.JobsCreated);
        var listed = await http.GetFromJsonAsync<JsonElement>("v1/jobs?name=relay-unique-name");
        Assert.Equal("relay-unique-name", listed.GetProperty("jobs")[0].GetProperty("name").GetString());
        Assert.Empty((await http.GetFromJsonAsync<JsonElement>("v1/jobs?name=other")).GetProperty("jobs").EnumerateArray());
    }

    [Fact]
    public async Task InjectedSubmitFailureCreatesNoJob()
    {
        Precept.FailNextSubmits(1, 503);

        using var failed = await http.PostAsJsonAsync("v1/leads/enrich", Body(Lead("a")));
        using var next = await http.PostAsJsonAsync("v1/leads/enrich", Body(Lead("a")));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, next.StatusCode);
        Assert.Equal(1, Precept.Counters.JobsCreated);
        Assert.Equal(1, Precept.Counters.LeadSubmissions["jane a @ acme"]);
    }

    [Fact]
    public async Task UnknownJobIs404()
    {
        using var response = await http.GetAsync($"v1/jobs/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    static JsonObject Lead(string lastName) => new()
    {
        ["firstName"] = "Jane",
        ["lastName"] = lastName,
        ["companyName"] = "Acme",
        ["companyDomain"] = "acme.com",
        ["enrichType"] = new JsonArray("emails", "phones"),
        ["customData"] = new JsonObject { ["rid"] = lastName },
    };

    static JsonObject Body(params JsonObject[] leads) => Body(null, leads);

    static JsonObject Body(string? webhookUrl, params JsonObject[] leads) => new()
    {
        ["name"] = "test",
        ["webhookUrl"] = webhookUrl,
        ["leads"] = new JsonArray(leads.Select(l => (JsonNode)l).ToArray()),
        ["includeContactDetails"] = true,
    };

    async Task<string> SubmitAsync(JsonObject body)
    {
        using var response = await http.PostAsJsonAsync("v1/leads/enrich", body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("enrichment_id").GetString()!;
    }

    async Task<JsonElement> WaitForJobAsync(string id)
    {
        JsonElement job = default;
        await Until(async () =>
        {
            job = await http.GetFromJsonAsync<JsonElement>($"v1/jobs/{id}");
            return job.GetProperty("status").GetString() is "completed" or "failed";
        }, "the job to finish");
        return job;
    }

    static Task Until(Func<bool> condition, string what) => Until(() => Task.FromResult(condition()), what);

    static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Waited 10 s for {what}.");
            await Task.Delay(20);
        }
    }

    /// <summary>A webhook target on loopback that records bodies and can fail its first calls.</summary>
    sealed class WebhookReceiver : IAsyncDisposable
    {
        WebApplication app = null!;
        public ConcurrentQueue<JsonObject> Received { get; } = new();
        public int FailFirst { get; set; }
        public string Url { get; private set; } = "";

        public static async Task<WebhookReceiver> StartAsync()
        {
            var receiver = new WebhookReceiver();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            receiver.app = builder.Build();
            receiver.app.MapPost("/hook", async (HttpRequest request) =>
            {
                var body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
                receiver.Received.Enqueue(body);
                if (receiver.FailFirst > 0)
                {
                    receiver.FailFirst--;
                    return Results.StatusCode(500);
                }
                return Results.Accepted();
            });
            await receiver.app.StartAsync();
            var address = receiver.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            receiver.Url = address.TrimEnd('/') + "/hook";
            return receiver;
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }
}
