using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Providers.Precept;

namespace EnrichmentRelay.Tests.Providers.Precept;

/// <summary>
/// The one-pass reader of what a callback says of its job (a verified callback's hint) says what the document reader
/// says: the top level's id, name and status only, whatever else the body holds or however it repeats itself.
/// </summary>
public sealed class PreceptJobReportTests
{
    [Theory]
    [InlineData("""{"enrichment_id":"job-1","name":"relay-1","status":"running","results":[{"status":"completed"}]}""")]
    [InlineData("""{"results":[{"enrichment_id":"inner","status":"completed"}],"status":"completed","enrichment_id":"job-2"}""")]
    [InlineData("""{"enrichment_id":"first","enrichment_id":"last","status":"running","status":"failed"}""")]
    [InlineData("""{"enrichment_id":7,"name":null,"status":{"status":"completed"}}""")]
    [InlineData("""{"progress":{"total":100},"cost":{"credits":12.5},"name":"relay-2"}""")]
    [InlineData("""{"enrichment_id":"esc\u00e9\"aped","status":"COMPLETED"}""")]
    [InlineData("""[{"enrichment_id":"job-3","status":"completed"}]""")]
    [InlineData("""{}""")]
    public void SaysWhatTheDocumentSaysOfTheJob(string body) => AssertSame(body);

    [Fact]
    public void SaysWhatTheDocumentSaysOfTheJobForGeneratedBodies()
    {
        var random = new Random(18);
        string[] names = ["enrichment_id", "name", "status", "results", "cost", "progress", "other"];
        JsonNode? Value(int depth) => random.Next(depth > 1 ? 4 : 6) switch
        {
            0 => JsonValue.Create(random.Next(3) switch { 0 => "completed", 1 => "running", _ => $"v{random.Next(100)}" }),
            1 => JsonValue.Create(random.Next(1000)),
            2 => null,
            3 => JsonValue.Create(random.Next(2) == 0),
            4 => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => Value(depth + 1)).ToArray()),
            _ => Object(depth + 1),
        };
        JsonObject Object(int depth)
        {
            var o = new JsonObject();
            foreach (var _ in Enumerable.Range(0, random.Next(6)))
                o[names[random.Next(names.Length)]] = Value(depth);
            return o;
        }
        for (var i = 0; i < 500; i++)
        {
            var body = Object(0).ToJsonString();
            // A repeated property too, as a body written by hand might have.
            if (random.Next(4) == 0 && body.Length > 2)
                body = body[..^1] + (body.Length > 2 ? "," : "") + $"\"{names[random.Next(3)]}\":\"again\"}}";
            AssertSame(body);
        }
    }

    [Theory]
    [InlineData("""{"enrichment_id":"job-1","results":[{]}""")]
    [InlineData("\uFEFF{\"enrichment_id\":\"with-bom\"}")]
    public void RefusesWhatIsNotJsonAsTheDocumentDoes(string body)
    {
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(body));
        Assert.ThrowsAny<JsonException>(() => PreceptJobReport.ReadJob(body));
    }

    static void AssertSame(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var whole = PreceptJobReport.Read(doc.RootElement);
        var job = PreceptJobReport.ReadJob(body);
        Assert.Equal((whole.EnrichmentId, whole.Name, whole.Status), (job.EnrichmentId, job.Name, job.Status));
        Assert.Empty(job.Results);
    }
}
