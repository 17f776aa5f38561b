using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Generated hostile input (CsCheck, a fixed seed, a bounded count): valid requests mutated in their structure and
/// their bytes, and random text, through every door at once on one relay (PostgreSQL, RabbitMQ). No answer is a 500,
/// no consumer throws, and every message on the bus ends as a stored request, a rejection or a dead letter.
/// </summary>
public sealed class HostileInputTests(ITestOutputHelper output)
{
    // Fixed: a failure is replayed exactly by running the test again.
    const uint Stream = 15;
    const ulong Seed = 20261202;
    const int HttpCases = 400, SelectionCases = 100, WebhookCases = 150, BusCases = 200;

    static readonly string[] ValidRequests =
    [
        """{"requestId":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11","lead":{"firstName":"Jane","lastName":"Doe","companyName":"Acme","companyDomain":"acme.com"},"fields":["email","phone"],"providers":["precept"],"correlationData":{"crmId":"0031t00000AbCdE"}}""",
        """{"requestId":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c12","lead":{"linkedInUrl":"https://www.linkedin.com/in/jane-doe","email":"jane@acme.com"},"fields":["email"]}""",
        """{"requestId":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c13","lead":{"woodpeckerLead":{"uid":"0SVOUN5zYlkzJ5fMrBxUdiQ_0000","first_name":"Erlich","last_name":"Bachman","company_website":"bachmanity.com"}},"fields":["email"]}""",
        """{"requestId":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c14","lead":{"lancePersonId":"550e8400-e29b-41d4-a716-446655440001"},"fields":["email","phone"]}""",
    ];

    static readonly string[] ValidSelections =
    [
        """{"selectionId":"7c9e6679-7425-40de-944b-e07fc1f90ae7","filters":{"contact":{"contact.seniority":{"any":{"include":["VP"]}}}},"startIndex":0,"targetCount":5,"excludedIds":[],"field":"email","correlationData":{"campaign":"vp-q4"}}""",
    ];

    static readonly string[] ValidCallbacks =
    [
        """{"enrichment_id":"8d5f0c1e-6a2b-4c3d-9e8f-1a2b3c4d5e6f","name":"relay-x","status":"completed","cost":{"credits":2},"results":[{"custom_data":{"rid":"5b0c4f9e-2d1a-4c3b-9e8f-7a6b5c4d3e2f"},"enrich_email":["jane.doe@acme.com"],"enrich_phone":["+15550100"]}]}""",
        """{"enrichment_id":"8d5f0c1e-6a2b-4c3d-9e8f-1a2b3c4d5e6f","status":"processing","results":[]}""",
    ];

    /// <summary>Values a field may be swapped for: each type, the edges of each, and what databases and parsers trip on.</summary>
    static readonly Gen<JsonNode?> HostileValue = Gen.OneOf(
        Gen.OneOf<Func<JsonNode?>>(
            () => null, () => JsonValue.Create(true), () => JsonValue.Create(0), () => JsonValue.Create(-1), () => JsonValue.Create(long.MaxValue),
            () => JsonValue.Create(1e300), () => JsonValue.Create(""), () => JsonValue.Create("\u0000"), () => JsonValue.Create("a\u0000b"),
            () => JsonValue.Create("00000000-0000-0000-0000-000000000000"), () => JsonValue.Create("not-a-guid"), () => JsonValue.Create("EMAIL"),
            () => JsonValue.Create("fax"), () => JsonValue.Create("\ud800"), () => JsonValue.Create("💥🚀"), () => JsonValue.Create(new string('x', 5000)),
            () => new JsonArray(), () => new JsonObject(), () => new JsonArray(JsonValue.Create("email"), JsonValue.Create("email")),
            () => Nested(70), () => JsonNode.Parse("""{"uid":null}"""))
            .Select(make => make()),
        Gen.String.Select(text => (JsonNode?)JsonValue.Create(text)),
        Gen.Int.Select(n => (JsonNode?)JsonValue.Create(n)));

    static JsonNode Nested(int depth)
    {
        JsonNode node = new JsonArray();
        for (var i = 0; i < depth; i++)
            node = new JsonArray(node);
        return node;
    }

    /// <summary>A valid body with one of its nodes swapped, removed, or an unknown one added.</summary>
    static Gen<string> StructurallyMutated(string[] valid) =>
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Int[0, 1000], Gen.Int[0, 2], HostileValue, (which, at, how, value) =>
        {
            var root = JsonNode.Parse(valid[which])!;
            var nodes = Descendants(root).ToList();
            var target = nodes[at % nodes.Count];
            var parent = target.Parent;
            switch (how)
            {
                case 0 when parent is JsonObject obj:
                    obj[target.GetPropertyName()] = value?.DeepClone();
                    break;
                case 0 when parent is JsonArray array:
                    array[target.GetElementIndex()] = value?.DeepClone();
                    break;
                case 1 when parent is JsonObject obj:
                    obj.Remove(target.GetPropertyName());
                    break;
                default:
                    if (target is JsonObject container)
                        container["unexpected" + at] = value?.DeepClone();
                    else
                        root = value?.DeepClone() ?? JsonValue.Create(0)!; // the whole body swapped
                    break;
            }
            return root.ToJsonString();
        });

    static IEnumerable<JsonNode> Descendants(JsonNode node)
    {
        yield return node;
        var children = node switch
        {
            JsonObject obj => obj.Select(p => p.Value),
            JsonArray array => array.AsEnumerable(),
            _ => [],
        };
        foreach (var child in children.OfType<JsonNode>())
            foreach (var descendant in Descendants(child))
                yield return descendant;
    }

    /// <summary>A valid body with its text cut, a character changed, or a piece repeated: what a broken producer sends.</summary>
    static Gen<string> TextuallyMutated(string[] valid) =>
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Int[0, 10_000], Gen.Int[0, 3], Gen.Char, (which, at, how, c) =>
        {
            var text = valid[which];
            var i = at % text.Length;
            return how switch
            {
                0 => text[..i],
                1 => text[..i] + c + text[(i + 1)..],
                2 => text[..i] + c + text[i..],
                _ => text[..i] + text[(i / 2)..],
            };
        });

    static Gen<string> Hostile(string[] valid) => Gen.Frequency(
        (5, StructurallyMutated(valid)),
        (3, TextuallyMutated(valid)),
        (1, Gen.String),
        (1, Gen.OneOf<string>("", "null", "[]", "{}", "\"x\"", "0", "{\"a\":", "\u0000", "{\"lead\":{},\"fields\":[\"email\"]}")));

    static List<string> Cases(Gen<string> gen, int count, PCG random) =>
        Enumerable.Range(0, count).Select(_ => gen.Generate(random, null, out Size _)).ToList();

    [Fact]
    public async Task RandomAndMutatedInputNeverFailsAndEveryMessageIsAnswered()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres,
            // The first Precept job stays open, so callbacks to it are stored (not 410) and applied.
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromHours(1),
            new Dictionary<string, string>
            {
                // Any consumer failure would show within the test's wait as a dead letter with redeliveries.
                ["Bus__RetryIntervals__0"] = "00:00:00.100",
                ["Bus__RedeliveryDelays__0"] = "00:00:01",
                ["Providers__Precept__WebhookPermitsPerSecond"] = "100000",
            });
        var random = new PCG(Stream, Seed);
        var http = scenario.Relay.Http;

        // An open Precept job whose webhook URL takes the callbacks below.
        using (var first = await http.PostAsync("enrichments", new StringContent(ValidRequests[0].Replace("1c11", "ffff"), Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var job = await Eventually.ReturnsAsync(() => Task.FromResult(scenario.Sandbox.Precept.Jobs.FirstOrDefault()), j => j is not null,
            TimeSpan.FromSeconds(30), "the first Precept job");
        scenario.Sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50);
        var token = new Uri(job!.WebhookUrl!).Segments.Last();

        var statuses = new Dictionary<string, Dictionary<int, int>>();
        async Task PostAllAsync(string door, string path, IEnumerable<string> bodies, int[] allowed)
        {
            var seen = statuses[door] = [];
            foreach (var body in bodies)
            {
                using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
                var status = (int)response.StatusCode;
                seen[status] = seen.GetValueOrDefault(status) + 1;
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(allowed.Contains(status), $"{door}: {status} for {Shorten(body)}: {text}");
                Assert.DoesNotContain("   at ", text);
                if (status == 400 && door != "webhook")
                    Assert.True(JsonDocument.Parse(text).RootElement.TryGetProperty("errors", out _), $"{door}: a 400 names what is wrong: {text}");
            }
        }
        await PostAllAsync("intake", "enrichments", Cases(Hostile(ValidRequests), HttpCases, random), [202, 400, 413]);
        await PostAllAsync("selections", "selections", Cases(Hostile(ValidSelections), SelectionCases, random), [202, 400, 413]);
        // A callback that is no JSON (a NUL among them) is kept for audit (400); the group commit of the others holds.
        await PostAllAsync("webhook", $"webhooks/precept/{token}", Cases(Hostile(ValidCallbacks), WebhookCases, random), [202, 400, 413]);

        // The bus: each message with a message id of its own and, where it has one, a fresh requestId.
        var messages = Cases(Hostile(ValidRequests), BusCases, random)
            .Select(body => (Body: Encoding.UTF8.GetBytes(body.Replace("3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c1", Guid.NewGuid().ToString()[..35])),
                MessageId: Guid.NewGuid()))
            .ToList();
        await scenario.Bus.PublishRawBytesAsync(messages.Select(m => m.Body), messages.Select(m => m.MessageId));

        scenario.Relay.Http.DefaultRequestHeaders.Add("X-Api-Key", RelayScenario.AdminKey);
        var unanswered = messages;
        List<JsonElement> letters = [];
        await Eventually.ReturnsAsync(async () =>
        {
            var page = await http.GetFromJsonAsync<JsonElement>("admin/dead-letters?queue=enrichment-requested&limit=1000");
            letters = page.GetProperty("items").EnumerateArray().ToList();
            var parked = letters.Select(l => l.GetProperty("messageId").GetString()).ToHashSet();
            var still = new List<(byte[] Body, Guid MessageId)>();
            foreach (var message in unanswered)
                if (!parked.Contains(message.MessageId.ToString()) && !await IsAnsweredAsync(scenario, message.Body, message.MessageId))
                    still.Add(message);
            unanswered = still;
            return unanswered.Count;
        }, left => left == 0, TimeSpan.FromSeconds(90), "every message on the bus to be stored, rejected or kept as a dead letter");

        // Only bytes that cannot be read are dead letters, at once: no consumer failed on anything it could read.
        Assert.All(letters, l => Assert.Equal(0, l.GetProperty("redeliveries").GetInt32()));
        var log = scenario.Relay.LogText;
        Assert.DoesNotContain("Applying callbacks failed", log);
        Assert.DoesNotContain("Storing a webhook callback", log);
        Assert.DoesNotContain("unhandled exception", log, StringComparison.OrdinalIgnoreCase);
        using (var ready = await http.GetAsync("health/ready"))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        var total = HttpCases + SelectionCases + WebhookCases + BusCases;
        output.WriteLine($"[figure] hostile input (seed {Seed}): {total} cases: " +
                         string.Join("; ", statuses.Select(d => $"{d.Key} " + string.Join(", ", d.Value.OrderBy(s => s.Key).Select(s => $"{s.Value}×{s.Key}")))) +
                         $"; bus {BusCases} messages, {letters.Count} dead letters, the rest stored or rejected; no 500, no consumer failure");
    }

    /// <summary>A stored request (accepted or rejected) under its requestId, or a rejection without one answered under the message id.</summary>
    static async Task<bool> IsAnsweredAsync(RelayScenario scenario, byte[] body, Guid messageId)
    {
        if (scenario.Bus.Completions.TryGetValue(Guid.Empty, out var keyless)
            && keyless.Any(c => c.EventId == EnrichmentCompleted.EventIdFor(messageId)))
            return true;
        if (RequestIdOf(body) is not { } requestId)
            return false;
        using var response = await scenario.Relay.Http.GetAsync($"enrichments/{requestId}");
        return response.StatusCode == HttpStatusCode.OK;
    }

    static Guid? RequestIdOf(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.EnumerateObject().FirstOrDefault(p => p.Name.Equals("requestId", StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: JsonValueKind.String } id
                   && Guid.TryParse(id.Value.GetString(), out var guid) && guid != Guid.Empty ? guid : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
