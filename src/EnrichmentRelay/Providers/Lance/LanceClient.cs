using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>Lance's Enrichment object (the fields the relay reads).</summary>
public sealed record LanceEnrichment(string? Id, string EntityId, string Field, string Status, string? Error, bool? DataFound, DateTimeOffset? UpdatedAt);

public sealed record LancePerson(string Id, IReadOnlyList<string> Emails, IReadOnlyList<string> Phones);

/// <summary>Typed client for Lance's bulk enrichment, batch query and person read.</summary>
public sealed class LanceClient(HttpClient http)
{
    /// <summary>The routes this client calls, as the provider call metrics name them.</summary>
    public static readonly IReadOnlyList<string> Endpoints =
        ["api/v1/operations/enrichment/bulk", "api/v1/operations/enrichment/batch/query", "api/v1/entities/prospects/person/{id}"];

    public Task<HttpResponseMessage> BulkAsync(string field, IReadOnlyList<string> personIds, CancellationToken ct) =>
        http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", new JsonObject
        {
            ["selection"] = new JsonObject { ["mode"] = "manual", ["includedIds"] = new JsonArray(personIds.Select(id => (JsonNode)id).ToArray()) },
            ["field"] = field,
        }, ct);

    /// <summary>Bulk selection: Lance picks <paramref name="targetCount"/> people from its search, skipping the excluded ones.</summary>
    public Task<HttpResponseMessage> SelectAsync(string field, JsonElement? filters, int startIndex, int targetCount,
        IReadOnlyList<string> excludedIds, CancellationToken ct) =>
        http.PostAsJsonAsync("api/v1/operations/enrichment/bulk", new JsonObject
        {
            ["selection"] = new JsonObject
            {
                ["mode"] = "bulk",
                ["filters"] = filters is { } f ? JsonNode.Parse(f.GetRawText()) : null,
                ["startIndex"] = startIndex,
                ["targetCount"] = targetCount,
                ["excludedIds"] = new JsonArray(excludedIds.Select(id => (JsonNode)id).ToArray()),
            },
            ["field"] = field,
        }, ct);

    /// <summary>The latest record of each (person, field) task that has one; tasks without a record are left out.</summary>
    public async Task<IReadOnlyList<LanceEnrichment>> QueryAsync(IReadOnlyList<(string PersonId, string Field)> tasks, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync("api/v1/operations/enrichment/batch/query", new JsonObject
        {
            ["tasks"] = new JsonArray(tasks.Select(t => (JsonNode)new JsonObject
            {
                ["entityId"] = t.PersonId, ["field"] = t.Field, ["entityType"] = "person",
            }).ToArray()),
        }, ct);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"Lance answered {(int)response.StatusCode}: {await ReadErrorAsync(response, ct)}", null, response.StatusCode);
        return ReadEnrichments(await response.Content.ReadAsStringAsync(ct));
    }

    public async Task<LancePerson?> GetPersonAsync(string personId, CancellationToken ct)
    {
        using var response = await http.GetAsync($"api/v1/entities/prospects/person/{Uri.EscapeDataString(personId)}", ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"Lance answered {(int)response.StatusCode}: {await ReadErrorAsync(response, ct)}", null, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return new LancePerson(personId, Strings(doc.RootElement, "emails"), Strings(doc.RootElement, "phones"));
    }

    public static IReadOnlyList<LanceEnrichment> ReadEnrichments(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            return [];
        return doc.RootElement.EnumerateArray()
            .Where(e => Text(e, "entityId") is not null && Text(e, "field") is not null && Text(e, "status") is not null)
            .Select(e => new LanceEnrichment(Text(e, "id"), Text(e, "entityId")!, Text(e, "field")!, Text(e, "status")!, Text(e, "error"),
                e.TryGetProperty("dataFound", out var found) && found.ValueKind is JsonValueKind.True or JsonValueKind.False ? found.GetBoolean() : null,
                DateTimeOffset.TryParse(Text(e, "updatedAt"), out var at) ? at : null))
            .ToList();
    }

    /// <summary>Lance's error code and message: <c>{"error":{"code","message"}}</c> or <c>{"code","message"}</c>, else the status.</summary>
    public static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var doc = JsonDocument.Parse(text);
            var error = doc.RootElement.TryGetProperty("error", out var nested) && nested.ValueKind == JsonValueKind.Object ? nested : doc.RootElement;
            if (Text(error, "code") is { } code)
                return Text(error, "message") is { } message ? $"{code}: {message}" : code;
        }
        catch (JsonException)
        {
        }
        return $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
    }

    static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static List<string> Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
            : [];
}
