using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>Lance's Enrichment object (the fields the relay reads). Ids are opaque strings: the pages' examples mix formats.</summary>
public sealed record LanceEnrichment(
    string? Id,
    string EntityId,
    string Field,
    string Status,
    string? Error,
    bool? DataFound,
    DateTimeOffset? UpdatedAt,
    DateTimeOffset? CreatedAt = null,
    string? CreditTransactionId = null)
{
    /// <summary>Lance hands such a record back instead of creating a new one (pending or finished, free).</summary>
    public bool IsReusable => Status is "pending" or "finished";
}

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
            throw new HttpRequestException($"Lance answered {await ReadErrorAsync(response, ct)}", null, response.StatusCode);
        return ReadEnrichments(await response.Content.ReadAsStringAsync(ct));
    }

    /// <summary>
    /// The person, or null when Lance holds none by this id: 404, or 400 refusing the id (the pages document neither,
    /// nor any other answer for an unknown person). Throws for anything else, which says nothing about the person.
    /// </summary>
    public async Task<LancePerson?> GetPersonAsync(string personId, CancellationToken ct)
    {
        using var response = await http.GetAsync($"api/v1/entities/prospects/person/{Uri.EscapeDataString(personId)}", ct);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.Gone)
            return null;
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"Lance answered {await ReadErrorAsync(response, ct)}", null, response.StatusCode);
        return ReadPerson(personId, await response.Content.ReadAsStringAsync(ct));
    }

    /// <summary>A person read's body (its 200 answer) as the person <paramref name="personId"/>.</summary>
    public static LancePerson ReadPerson(string personId, string json)
    {
        using var doc = JsonDocument.Parse(json);
        return new LancePerson(personId, Strings(doc.RootElement, "emails"), Strings(doc.RootElement, "phones"));
    }

    /// <summary>The <c>id</c> a person read's body says it is (documented), or null when it says none.</summary>
    public static string? PersonIdOf(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Text(doc.RootElement, "id");
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
                Instant(e, "updatedAt"), Instant(e, "createdAt"), Text(e, "creditTransactionId")))
            .ToList();
    }

    /// <summary>
    /// Lance's error, for a detail or a log: the pages give each error's status and code but not the body, so
    /// <c>{"error":{"code","message"}}</c>, <c>{"code","message"}</c>, <c>{"message"}</c> and a plain-text body are
    /// all read; the status leads, so a body without a code still says what kind of error it was.
    /// </summary>
    public static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = $"HTTP {(int)response.StatusCode}";
        var text = (await response.Content.ReadAsStringAsync(ct)).Trim();
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var error = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var nested) && nested.ValueKind == JsonValueKind.Object
                ? nested : root;
            var code = Text(error, "code");
            var message = Text(error, "message") ?? Text(root, "message") ?? Text(root, "error");
            if (code is not null || message is not null)
                return $"{status} {string.Join(": ", new[] { code, message }.OfType<string>())}";
        }
        catch (JsonException)
        {
            if (text.Length > 0)
                return $"{status} {(text.Length > MaxErrorText ? text[..MaxErrorText] + "…" : text)}";
        }
        return $"{status} {response.ReasonPhrase}";
    }

    const int MaxErrorText = 300;

    static DateTimeOffset? Instant(JsonElement e, string name) =>
        DateTimeOffset.TryParse(Text(e, name), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? at : null;

    static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static List<string> Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
            : [];
}
