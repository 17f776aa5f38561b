using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>One Lead Finder batch as the list and get endpoints show it.</summary>
public sealed record WoodpeckerBatch(string Uuid, DateTimeOffset? Created, IReadOnlyList<WoodpeckerBatchLead> Leads);

public sealed record WoodpeckerBatchLead(string Uid, string? Status, string? ProcessingResult);

public sealed record WoodpeckerProspectStatus(string Uuid, string Email, DateTimeOffset? Created, string? Status);

public sealed record WoodpeckerProspect(long? Id, string? Email, string? FirstName, string? LastName, string? Company,
    string? Website, string? LinkedInUrl, DateTimeOffset? Updated);

/// <summary>Woodpecker answered a read with an error status; <see cref="Error"/> is its own text (<see cref="WoodpeckerClient.ReadErrorAsync"/>).</summary>
public sealed class WoodpeckerErrorException(HttpStatusCode status, string error)
    : HttpRequestException($"Woodpecker answered {(int)status}: {error}", null, status)
{
    public string Error => error;

    /// <summary>
    /// Woodpecker refused the request for something in it (400, 413, 422), not for its key, its rate or its own trouble:
    /// the same question asked about less (one job's leads instead of several jobs') may be answered.
    /// </summary>
    public bool RefusesTheQuestion =>
        StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnprocessableEntity
        && !WoodpeckerClient.IsTooManyRequests(error);
}

/// <summary>
/// Typed client for Woodpecker's Lead Finder (v2) and prospect (v1) endpoints. Tolerant readers: the
/// get-by-uuid body may be wrapped, v1 answers 204 for an empty search.
/// </summary>
public sealed class WoodpeckerClient(HttpClient http)
{
    /// <summary>The routes this client calls, as the provider call metrics name them.</summary>
    public static readonly IReadOnlyList<string> Endpoints =
    [
        "v2/lead_finder/leads/enrichments/{uuid}", "v2/lead_finder/leads/enrichments", "v2/lead_finder/prospects/enrichments/statuses/query",
        "v2/lead_finder/prospects/enrichments", "v1/prospects",
    ];

    public Task<HttpResponseMessage> QueueLeadEnrichmentsAsync(JsonArray leads, IReadOnlyList<int> targetCampaignIds, CancellationToken ct) =>
        http.PostAsJsonAsync("v2/lead_finder/leads/enrichments",
            new JsonObject { ["leads"] = leads, ["target_campaign_ids"] = new JsonArray(targetCampaignIds.Select(id => (JsonNode)id).ToArray()) }, ct);

    public Task<HttpResponseMessage> QueueProspectEnrichmentsAsync(JsonArray prospects, CancellationToken ct) =>
        http.PostAsJsonAsync("v2/lead_finder/prospects/enrichments", new JsonObject { ["prospects"] = prospects }, ct);

    /// <summary>
    /// Batches created after <paramref name="createdAfter"/>. Without the parameter Woodpecker shows only
    /// the last 24 h, and the filter is day-granular, so callers pass the day before their oldest batch.
    /// </summary>
    public async Task<IReadOnlyList<WoodpeckerBatch>> ListLeadEnrichmentsAsync(DateOnly createdAfter, CancellationToken ct)
    {
        var root = await GetJsonAsync($"v2/lead_finder/leads/enrichments?created_after={createdAfter.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}", ct);
        return root is { } body ? ReadBatchList(body) : [];
    }

    /// <summary>The batches of a list answer's body.</summary>
    public static IReadOnlyList<WoodpeckerBatch> ReadBatchList(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("lead_enrichments", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(ReadBatch).OfType<WoodpeckerBatch>().ToList()
            : [];

    public async Task<WoodpeckerBatch?> GetLeadEnrichmentAsync(string uuid, CancellationToken ct)
    {
        var root = await GetJsonAsync($"v2/lead_finder/leads/enrichments/{Uri.EscapeDataString(uuid)}", ct);
        return root is { } body ? ReadBatchBody(body) : null;
    }

    /// <summary>The batch of a get-by-uuid answer's body: seen both bare and wrapped as <c>{"lead_enrichment": {...}}</c>.</summary>
    public static WoodpeckerBatch? ReadBatchBody(JsonElement body) =>
        ReadBatch(body.ValueKind == JsonValueKind.Object && body.TryGetProperty("lead_enrichment", out var wrapped) ? wrapped : body);

    public async Task<IReadOnlyList<WoodpeckerProspectStatus>> QueryProspectStatusesAsync(IReadOnlyCollection<string> emails, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync("v2/lead_finder/prospects/enrichments/statuses/query",
            new JsonObject { ["emails"] = new JsonArray(emails.Select(e => (JsonNode)e).ToArray()) }, ct);
        await EnsureSuccessAsync(response, ct);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return ReadProspectStatuses(doc.RootElement);
    }

    /// <summary>The statuses of a status query answer's body.</summary>
    public static IReadOnlyList<WoodpeckerProspectStatus> ReadProspectStatuses(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("prospect_enrichments", out var list) || list.ValueKind != JsonValueKind.Array)
            return [];
        return list.EnumerateArray()
            .Where(e => Text(e, "uuid") is not null && Text(e, "prospect_email") is not null)
            .Select(e => new WoodpeckerProspectStatus(Text(e, "uuid")!, Text(e, "prospect_email")!, Instant(e, "created"), Text(e, "status")))
            .ToList();
    }

    /// <summary>v1 search: <c>field=value</c> pairs, ANDed. An empty result is a 204.</summary>
    public Task<IReadOnlyList<WoodpeckerProspect>> SearchProspectsAsync(IReadOnlyDictionary<string, string> criteria, CancellationToken ct)
    {
        // Commas and equals signs separate criteria, so they cannot appear inside a value.
        var search = string.Join(',', criteria.Select(c => $"{c.Key}={c.Value.Replace(",", " ").Replace("=", " ")}"));
        return ReadProspectsAsync($"v1/prospects?search={Uri.EscapeDataString(search)}&per_page=100", ct);
    }

    /// <summary>
    /// One page of prospects, asked for most recently updated first: how converted leads are found in bulk. The
    /// vendor documents <c>sort</c> but not that <c>updated</c> is sortable, so a caller must not rely on the order.
    /// </summary>
    public Task<IReadOnlyList<WoodpeckerProspect>> RecentProspectsAsync(int page, int perPage, CancellationToken ct) =>
        ReadProspectsAsync($"v1/prospects?sort=-updated&page={page}&per_page={perPage}", ct);

    async Task<IReadOnlyList<WoodpeckerProspect>> ReadProspectsAsync(string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        if (response.StatusCode == HttpStatusCode.NoContent)
            return [];
        await EnsureSuccessAsync(response, ct);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return ReadProspects(doc.RootElement);
    }

    /// <summary>The prospects of a v1 prospects answer's body.</summary>
    public static IReadOnlyList<WoodpeckerProspect> ReadProspects(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Array)
            return [];
        return root.EnumerateArray().Select(p => new WoodpeckerProspect(
            p.TryGetProperty("id", out var id) && id.TryGetInt64(out var n) ? n : null,
            Text(p, "email"), Text(p, "first_name"), Text(p, "last_name"), Text(p, "company"), Text(p, "website"), Text(p, "linkedin_url"),
            Instant(p, "updated"))).ToList();
    }

    /// <summary>Woodpecker's error text: v2 <c>{title, details}</c>, v1 <c>{status:{code,msg}}</c>, else the status.</summary>
    public static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (Text(root, "title") is { } title)
                    return Text(root, "details") is { } details ? $"{title}: {details}" : title;
                if (root.TryGetProperty("status", out var v1) && v1.ValueKind == JsonValueKind.Object)
                    return $"{Text(v1, "code")}: {Text(v1, "msg")}";
            }
        }
        catch (JsonException)
        {
        }
        return $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
    }

    /// <summary>Whether an error read by <see cref="ReadErrorAsync"/> is Woodpecker dropping a request it had no turn for.</summary>
    public static bool IsTooManyRequests(string error) =>
        error.StartsWith("Too Many Requests", StringComparison.OrdinalIgnoreCase) || error.StartsWith("E_TOO_MANY_REQUESTS", StringComparison.Ordinal);

    async Task<JsonElement?> GetJsonAsync(string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.NoContent)
            return null;
        await EnsureSuccessAsync(response, ct);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return doc.RootElement.Clone();
    }

    static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
            throw new WoodpeckerErrorException(response.StatusCode, await ReadErrorAsync(response, ct));
    }

    static WoodpeckerBatch? ReadBatch(JsonElement batch)
    {
        if (batch.ValueKind != JsonValueKind.Object || Text(batch, "uuid") is not { } uuid)
            return null;
        var leads = batch.TryGetProperty("leads", out var l) && l.ValueKind == JsonValueKind.Array
            ? l.EnumerateArray().Where(x => Text(x, "uid") is not null)
                .Select(x => new WoodpeckerBatchLead(Text(x, "uid")!, Text(x, "status"), Text(x, "processing_result"))).ToList()
            : [];
        return new WoodpeckerBatch(uuid, Instant(batch, "created"), leads);
    }

    static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>ISO-8601; v1 writes the offset without a colon (<c>2016-08-14T02:08:58+0200</c>).</summary>
    static DateTimeOffset? Instant(JsonElement e, string name)
    {
        var text = Text(e, name);
        if (text is { Length: > 5 } && (text[^5] is '+' or '-') && text[^4..].All(char.IsAsciiDigit))
            text = text[..^2] + ":" + text[^2..];
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ? at : null;
    }
}
