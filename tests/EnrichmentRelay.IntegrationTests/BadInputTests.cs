using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>Garbage in: each gets its answer, and none stops or delays the good requests behind it.</summary>
[Collection(RelayCollection.Name)]
public sealed class BadInputTests(ITestOutputHelper output)
{
    static readonly byte[] InvalidUtf8 = [0x7B, 0x22, 0x72, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D];

    static string Body(Guid id, string leadAndFields) => $$"""{"requestId":"{{id}}",{{leadAndFields}}}""";

    [Fact]
    public async Task BadMessagesOnTheBusAreRejectedOrParkedAndTheGoodOnesStillComplete()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(50));
        var ok = """ "lead":{"firstName":"Jane","lastName":"Doe","companyName":"Acme"},"fields":["email"] """.Trim();
        Guid missingIdentity = Guid.NewGuid(), emptyFields = Guid.NewGuid(), manyKeys = Guid.NewGuid(), huge = Guid.NewGuid(),
            twice = Guid.NewGuid(), good = Guid.NewGuid();
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

        await scenario.Bus.WaitForCompletionsAsync([missingIdentity, emptyFields, manyKeys, huge, twice, good, Guid.Empty], TimeSpan.FromSeconds(90));
        Assert.Equal(Outcome.Rejected, Single(scenario, Guid.Empty).Outcome);
        Assert.Equal(Outcome.Found, Single(scenario, good).Outcome);
        Assert.Contains("No enabled provider can identify", Single(scenario, missingIdentity).Detail);
        Assert.Contains("'fields'", Single(scenario, emptyFields).Detail);
        Assert.Contains("at most 64 keys", Single(scenario, manyKeys).Detail);
        Assert.Contains("at most 4096 characters", Single(scenario, huge).Detail);
        Assert.All(new[] { missingIdentity, emptyFields, manyKeys, huge }, id => Assert.Equal(Outcome.Rejected, Single(scenario, id).Outcome));

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
        output.WriteLine($"[figure] bad input on the bus: 6 answered Rejected, 1 different repeat reported, {letters.Count} kept as dead letters: " +
                         string.Join("; ", letters.Select(l => l.GetProperty("exceptionType").GetString())));
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.Equal(0, l.GetProperty("redeliveries").GetInt32()));
        Assert.All(letters, l => Assert.False(string.IsNullOrWhiteSpace(l.GetProperty("reason").GetString())));
        Assert.False(await scenario.Bus.QueueExistsAsync("enrichment-requested_error"), "nothing went to MassTransit's error queue");
    }

    [Theory]
    [InlineData("{\"lead\": ", "malformed JSON")]
    [InlineData("""{"requestId":"not-a-guid","lead":{"linkedInUrl":"https://linkedin.com/in/x"},"fields":["email"]}""", "wrong type")]
    [InlineData("""{"lead":{"companyName":"Acme"},"fields":["email"]}""", "missing identity")]
    [InlineData("""{"lead":{"linkedInUrl":"https://linkedin.com/in/x"},"fields":["email"],"providers":["acme"]}""", "unknown provider")]
    [InlineData("""{"lead":{"linkedInUrl":"https://linkedin.com/in/x"},"fields":[]}""", "empty fields")]
    public async Task BadRequestsOverHttpAreProblemDetails(string body, string what)
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);

        using var response = await scenario.Relay.Http.PostAsync("enrichments", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{what}: {response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    static EnrichmentCompleted Single(RelayScenario scenario, Guid requestId) => Assert.Single(scenario.Bus.Completions[requestId]);
}
