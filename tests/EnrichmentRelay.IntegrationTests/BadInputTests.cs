using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Garbage in: each gets its answer, and none stops or delays the good requests behind it. Every row of
/// docs/bad-input.md is a case here, run against the relay in Development (what <c>dotnet run</c> gives) and in
/// Production, over real HTTP and the real broker, checking the answer's body as well as its status.
/// </summary>
public sealed class BadInputTests(BadInputTests.BothEnvironments relays, ITestOutputHelper output) : IClassFixture<BadInputTests.BothEnvironments>
{
    public const string Development = "Development";
    public const string Production = "Production";

    /// <summary>One relay per environment, each on RabbitMQ with a client and an admin key, shared by the HTTP cases.</summary>
    public sealed class BothEnvironments : IAsyncLifetime
    {
        public Dictionary<string, RelayScenario> Relays { get; } = [];
        /// <summary>The webhook token of a Precept job each relay has completed (spent: 410).</summary>
        public Dictionary<string, string> SpentTokens { get; } = [];

        public async Task InitializeAsync()
        {
            foreach (var environment in new[] { Development, Production })
            {
                var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50),
                    InEnvironment(environment));
                Relays[environment] = scenario;
                using var post = await scenario.Relay.Http.PostAsync("enrichments", new StringContent(
                    """{"lead":{"firstName":"Jane","lastName":"Spent","companyName":"Acme"},"fields":["email"]}""", Encoding.UTF8, "application/json"));
                post.EnsureSuccessStatusCode();
                await Eventually.ReturnsAsync(() => scenario.Relay.Http.GetFromJsonAsync<JsonElement>(post.Headers.Location!.ToString()),
                    s => s.GetProperty("state").GetString() == "completed", TimeSpan.FromSeconds(60), "the request to complete");
                SpentTokens[environment] = new Uri(Assert.Single(scenario.Sandbox.Precept.Jobs).WebhookUrl!).Segments.Last();
            }
        }

        public async Task DisposeAsync()
        {
            foreach (var scenario in Relays.Values)
                await scenario.DisposeAsync();
        }
    }

    static Dictionary<string, string> InEnvironment(string environment, Dictionary<string, string>? more = null)
    {
        var settings = new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = environment, ["DOTNET_ENVIRONMENT"] = environment };
        foreach (var (key, value) in more ?? [])
            settings[key] = value;
        return settings;
    }

    /// <summary>One row of the table: what is sent through which door, and the answer (status, the error's key, a phrase of it).</summary>
    public sealed record HttpCase(string Door, string Method, string Path, string? Body, string? ContentType, string Key, int Status, string? ErrorKey, string Says);

    const string Json = "application/json";
    const string Form = "application/x-www-form-urlencoded";
    const string Ok = """ "lead":{"firstName":"Jane","lastName":"Doe","companyName":"Acme"},"fields":["email"] """;
    static readonly string HugeBody = "{\"lead\":{\"firstName\":\"" + new string('x', 300 * 1024) + "\"},\"fields\":[\"email\"]}";
    static readonly string HugeWoodpeckerLead = "{\"lead\":{\"woodpeckerLead\":{\"uid\":\"u1\",\"notes\":\"" + new string('n', 17 * 1024) + "\"}},\"fields\":[\"email\"]}";

    /// <summary>Key: client (the client key), admin (the admin key), wrong (a wrong key), none.</summary>
    public static readonly IReadOnlyList<HttpCase> HttpCases =
    [
        new("intake", "POST", "enrichments", "notjson", Json, "client", 400, "$", "not valid JSON"),
        new("intake", "POST", "enrichments", "[]", Json, "client", 400, "$", "must be a JSON object"),
        new("intake", "POST", "enrichments", "", Json, "client", 400, "$", "The body is empty"),
        new("intake", "POST", "enrichments", "null", Json, "client", 400, "$", "must be a JSON object"),
        new("intake", "POST", "enrichments", """{"requestId":"not-a-guid","lead":{"linkedInUrl":"https://linkedin.com/in/x"},"fields":["email"]}""", Json, "client", 400, "requestId", "must be a GUID"),
        new("intake", "POST", "enrichments", """{"lead":{},"fields":["fax"]}""", Json, "client", 400, "fields[0]", "must be one of: email, phone"),
        new("intake", "POST", "enrichments", """{"lead":{"linkedInUrl":"https://linkedin.com/in/x"},"fields":["email"],"providers":["acme"]}""", Json, "client", 400, "providers[0]", "must be one of: precept, woodpecker, lance"),
        new("intake", "POST", "enrichments", """{"lead":{"firstName":5},"fields":["email"]}""", Json, "client", 400, "lead.firstName", "must be a string"),
        new("intake", "POST", "enrichments", """{"lead":{"companyName":"Acme"},"fields":["email"]}""", Json, "client", 400, "lead", "No enabled provider can identify"),
        new("intake", "POST", "enrichments", """{"lead":{"linkedInUrl":"https://linkedin.com/in/x"},"fields":[]}""", Json, "client", 400, "fields", "at least one of"),
        new("intake", "POST", "enrichments", "{" + Ok.Replace("\"Jane\"", "\"" + new string('J', 300) + "\"") + "}", Json, "client", 400, "lead.firstName", "256 characters or fewer"),
        new("intake", "POST", "enrichments", HugeWoodpeckerLead, Json, "client", 400, "lead.woodpeckerLead", "at most 16384 bytes"),
        new("intake", "POST", "enrichments", "{" + Ok + "}", "text/plain", "client", 415, null, "application/json"),
        new("intake", "POST", "enrichments", HugeBody, Json, "client", 413, null, "Relay:MaxIntakeBodyBytes"),
        new("intake", "POST", "enrichments", "{" + Ok + "}", Json, "none", 401, null, "Client key required"),
        new("intake", "GET", $"enrichments/{Guid.NewGuid()}", null, null, "none", 401, null, "Client key required"),
        new("intake", "GET", "metrics", null, null, "none", 401, null, "Client key required"),
        new("intake", "GET", "openapi/v1.json", null, null, "none", 401, null, "Client key required"),
        new("intake", "POST", "selections", "{\"targetCount\": ", Json, "client", 400, "$", "not valid JSON"),
        new("intake", "POST", "selections", """{"targetCount":"many","field":"email"}""", Json, "client", 400, "targetCount", "must be a whole number"),
        new("intake", "POST", "selections", """{"targetCount":10,"field":"fax"}""", Json, "client", 400, "field", "must be one of: email, phone"),
        new("intake", "POST", "selections", """{"targetCount":0,"field":"email"}""", Json, "client", 400, "targetCount", "between 1 and 1000"),
        new("intake", "POST", "selections", """{"targetCount":10,"field":"email"}""", "text/plain", "client", 415, null, "application/json"),
        new("intake", "POST", "selections", HugeBody, Json, "client", 413, null, "Relay:MaxIntakeBodyBytes"),
        new("admin", "GET", "admin/dead-letters", null, null, "none", 401, null, "Admin key required"),
        new("admin", "GET", "admin/dead-letters", null, null, "wrong", 401, null, "Admin key required"),
        new("admin", "GET", "admin/dead-letters", null, null, "client", 401, null, "Admin key required"),
        new("admin", "GET", "admin/dead-letters?from=yesterday", null, null, "admin", 400, null, "from"),
        new("admin", "GET", "admin/dead-letters?limit=0", null, null, "admin", 400, "limit", "Must be 1 to 1000"),
        new("admin", "POST", "admin/dead-letters/replay", null, null, "admin", 400, "from", "Required"),
        new("dashboard", "POST", "dashboard/unlock", """{"key":"x"}""", Json, "none", 400, null, "Not a form"),
        new("dashboard", "POST", "dashboard/unlock", "key=x&returnUrl=/", Form, "none", 400, null, "Form token missing or wrong"),
        new("dashboard", "POST", $"dashboard/dead-letters/{Guid.NewGuid()}/replay", "", Form, "none", 400, null, "Form token missing or wrong"),
        new("webhook", "POST", "webhooks/precept/not-a-token", """{"enrichment_id":"x"}""", Json, "none", 404, null, "No Precept job uses this callback URL"),
        new("webhook", "POST", "webhooks/precept/not-a-token", new string('x', 1024 * 1024 + 1), Json, "none", 413, null, "limited to 1048576 bytes"),
        new("webhook", "POST", "webhooks/precept/{spent}", """{"enrichment_id":"x","status":"completed"}""", Json, "none", 410, null, "takes no more callbacks"),
        new("webhook", "POST", "webhooks/precept/{spent}", "not json", Json, "none", 410, null, "takes no more callbacks"),
    ];

    public static TheoryData<string, int> HttpRows()
    {
        var rows = new TheoryData<string, int>();
        foreach (var environment in new[] { Development, Production })
            for (var i = 0; i < HttpCases.Count; i++)
                rows.Add(environment, i);
        return rows;
    }

    [Theory]
    [MemberData(nameof(HttpRows))]
    public async Task EachBadRequestGetsItsStatusAndAProblemNamingWhatIsWrong(string environment, int row)
    {
        var (door, method, path, body, contentType, key, status, errorKey, says) = HttpCases[row];
        var relay = relays.Relays[environment].Relay;
        using var http = new HttpClient { BaseAddress = relay.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{spent}", relays.SpentTokens[environment]));
        if (body is not null)
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { { "Content-Type", contentType } } };
        var sent = key switch
        {
            "client" => RelayScenario.ClientKey,
            "admin" => RelayScenario.AdminKey,
            "wrong" => RelayScenario.AdminKey[..^1] + "?",
            _ => null,
        };
        if (sent is not null)
            request.Headers.Add("X-Api-Key", sent);

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{environment} {door} {method} {path}: {(int)response.StatusCode} {text}");

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        if (errorKey is not null)
        {
            var messages = problem.GetProperty("errors").GetProperty(errorKey).EnumerateArray().Select(m => m.GetString()).ToList();
            Assert.Contains(messages, m => m!.Contains(says, StringComparison.Ordinal));
        }
        else
        {
            Assert.Contains(says, text, StringComparison.Ordinal);
        }
        // Never a stack trace, a .NET type name or a key in an answer, and nothing logged as an unhandled failure.
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("System.", text);
        Assert.DoesNotContain(RelayScenario.AdminKey, text);
        Assert.DoesNotContain("unhandled exception", relay.LogText, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void TheBadInputTableInTheDocsListsEveryCase()
    {
        var table = File.ReadAllText(Path.Combine(RelayProcess.RepositoryRoot, "docs", "bad-input.md"));
        foreach (var (door, method, path, _, _, _, status, _, _) in HttpCases.DistinctBy(c => (c.Door, c.Status)))
            Assert.Contains($"| {door} |", table);
        Assert.All(new[] { "400", "401", "404", "410", "413", "415", "429" }, status => Assert.Contains(status, table));
        output.WriteLine($"[figure] bad input over HTTP: {HttpCases.Count} cases through {HttpCases.Select(c => c.Door).Distinct().Count()} doors, each in Development and Production");
    }

    static readonly byte[] InvalidUtf8 = [0x7B, 0x22, 0x72, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D];

    static string Body(Guid id, string leadAndFields) => $$"""{"requestId":"{{id}}",{{leadAndFields}}}""";

    [Theory]
    [InlineData(Development)]
    [InlineData(Production)]
    public async Task BadMessagesOnTheBusAreRejectedOrParkedAndTheGoodOnesStillComplete(string environment)
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50), InEnvironment(environment));
        var ok = """ "lead":{"firstName":"Jane","lastName":"Doe","companyName":"Acme"},"fields":["email"] """.Trim();
        Guid missingIdentity = Guid.NewGuid(), emptyFields = Guid.NewGuid(), manyKeys = Guid.NewGuid(), huge = Guid.NewGuid(),
            twice = Guid.NewGuid(), good = Guid.NewGuid(), longName = Guid.NewGuid(), bigCorrelation = Guid.NewGuid();
        var tenThousandKeys = string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"\"k{i}\":\"v\""));
        var tenMiB = new string('x', 10 * 1024 * 1024);

        // Answered on the bus: Rejected completions with the reason.
        await scenario.Bus.PublishRawJsonAsync(
        [
            Body(missingIdentity, """ "lead":{"companyName":"Acme"},"fields":["email"] """),
            Body(emptyFields, """ "lead":{"firstName":"Jane","lastName":"Doe","companyName":"Acme"},"fields":[] """),
            Body(manyKeys, ok + $$""","correlationData":{{{tenThousandKeys}}}"""),
            Body(huge, ok + $$""","correlationData":{"blob":"{{tenMiB}}"}"""),
            Body(twice, ok + ""","correlationData":{"version":"first"}"""),
            Body(longName, ok.Replace("\"Jane\"", "\"" + new string('J', 100_000) + "\"") + ""","correlationData":{"crm":"kept"}"""),
            // Within the per-key limits (32 x 4,000 characters) but over the 64 KiB for all of it.
            Body(bigCorrelation, ok + ",\"correlationData\":{" + string.Join(",", Enumerable.Range(0, 32).Select(i => $"\"k{i}\":\"{new string('v', 4000)}\"")) + "}"),
        ]);
        // Unreadable: parked in the error queue with the reason, not retried in a loop.
        await scenario.Bus.PublishRawBytesAsync(
        [
            Encoding.UTF8.GetBytes("{\"requestId\": "),
            Encoding.UTF8.GetBytes("""{"requestId":"not-a-guid","lead":{},"fields":["email"]}"""),
            Encoding.UTF8.GetBytes(Body(Guid.NewGuid(), ok.Replace("\"fields\"", "\"providers\":[\"acme\"],\"fields\""))),
        ]);
        // Invalid UTF-8 in a property name reads as an empty request: answered Rejected, with no id to key it.
        await scenario.Bus.PublishRawBytesAsync([InvalidUtf8]);
        await scenario.Bus.PublishRawJsonAsync([Body(good, ok)]);

        await scenario.Bus.WaitForCompletionsAsync([missingIdentity, emptyFields, manyKeys, huge, twice, good, longName, bigCorrelation, Guid.Empty],
            TimeSpan.FromSeconds(90));
        Assert.Equal(Outcome.Rejected, Single(scenario, Guid.Empty).Outcome);
        Assert.Equal(Outcome.Found, Single(scenario, good).Outcome);
        Assert.Contains("No enabled provider can identify", Single(scenario, missingIdentity).Detail);
        Assert.Contains("'fields'", Single(scenario, emptyFields).Detail);
        Assert.Contains("at most 64 keys", Single(scenario, manyKeys).Detail);
        Assert.Contains("at most 4096 characters", Single(scenario, huge).Detail);
        Assert.All(new[] { missingIdentity, emptyFields, manyKeys, huge, longName, bigCorrelation }, id => Assert.Equal(Outcome.Rejected, Single(scenario, id).Outcome));
        // Correlation data over its limits is not echoed (the 10 MiB one would be more than the broker may take back);
        // within them it is, even when another part of the request was too large.
        Assert.All(new[] { manyKeys, huge, bigCorrelation }, id => Assert.Empty(Single(scenario, id).CorrelationData));
        Assert.All(new[] { manyKeys, huge, bigCorrelation }, id => Assert.Contains("correlationData is not echoed", Single(scenario, id).Detail));
        Assert.Contains("at most 65536 bytes", Single(scenario, bigCorrelation).Detail);
        Assert.Contains("256 characters or fewer", Single(scenario, longName).Detail);
        Assert.Equal("kept", Single(scenario, longName).CorrelationData["crm"]);

        // The same RequestId with a different body, after the first was handled: reported, not merged.
        var later = Guid.NewGuid();
        await scenario.Bus.PublishRawJsonAsync([Body(twice, ok + ""","correlationData":{"version":"second"}"""), Body(later, ok)]);
        await scenario.Bus.WaitForCompletionsAsync([later], TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(() => scenario.Relay.LogText.Contains("arrived again with a different body"), TimeSpan.FromSeconds(30),
            "the repeat with a different body to be reported");
        Assert.Equal("first", Single(scenario, twice).CorrelationData["version"]);

        // Unreadable ones are kept as dead letters, at once (no redelivery: waiting does not fix bytes), with the reason.
        scenario.Relay.Http.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.AdminKey);
        var parked = await Eventually.ReturnsAsync(() => scenario.Relay.Http.GetFromJsonAsync<JsonElement>("admin/dead-letters?queue=enrichment-requested"),
            page => page.GetProperty("total").GetInt32() >= 3, TimeSpan.FromSeconds(30), "three unreadable messages kept as dead letters");
        var letters = parked.GetProperty("items").EnumerateArray().ToList();
        output.WriteLine($"[figure] bad input on the bus ({environment}): 8 answered Rejected, 1 different repeat reported, {letters.Count} kept as dead letters: " +
                         string.Join("; ", letters.Select(l => l.GetProperty("exceptionType").GetString())));
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.Equal(0, l.GetProperty("redeliveries").GetInt32()));
        Assert.All(letters, l => Assert.False(string.IsNullOrWhiteSpace(l.GetProperty("reason").GetString())));
        Assert.False(await scenario.Bus.QueueExistsAsync("enrichment-requested_error"), "nothing went to MassTransit's error queue");
    }

    static EnrichmentCompleted Single(RelayScenario scenario, Guid requestId) => Assert.Single(scenario.Bus.Completions[requestId]);
}
