using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>Typed client for Precept's REST API: raw answers in, interpretation left to the caller.</summary>
public sealed class PreceptClient(HttpClient http)
{
    /// <summary>The routes this client calls, as the provider call metrics name them.</summary>
    public static readonly IReadOnlyList<string> Endpoints = ["v1/leads/enrich", "v1/jobs/{id}", "v1/jobs"];

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>POST /v1/leads/enrich. Never retried by the resilience pipeline: a repeat would charge twice.</summary>
    public Task<HttpResponseMessage> StartEnrichmentAsync(PreceptEnrichRequest body, CancellationToken ct) =>
        http.PostAsJsonAsync("v1/leads/enrich", body, Json, ct);

    /// <summary>GET /v1/jobs/{id}: status, progress and, once completed, the results. Null when unknown.</summary>
    public async Task<JsonDocument?> GetJobAsync(string jobId, CancellationToken ct)
    {
        using var response = await http.GetAsync($"v1/jobs/{Uri.EscapeDataString(jobId)}", ct);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            return null;
        response.EnsureSuccessStatusCode();
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
    }

    /// <summary>
    /// One page of <c>GET /v1/jobs</c>, whose only documented use is <c>?limit=1</c> (its shape and paging are not
    /// documented): <paramref name="next"/> is what the previous page pointed to, else the numbered page is asked for.
    /// <c>name</c> is sent as a hint only; whatever comes back is matched by the caller, never trusted as filtered.
    /// </summary>
    public async Task<PreceptJobList> ListJobsAsync(string name, int page, string? next, CancellationToken ct)
    {
        var query = $"v1/jobs?limit={PreceptJobList.PageSize}&name={Uri.EscapeDataString(name)}";
        var path = next switch
        {
            null => $"{query}&page={page}",
            _ when PreceptJobList.IsRelativePath(next) => next.TrimStart('/'),
            _ when int.TryParse(next, out var nextPage) => $"{query}&page={nextPage}",
            _ => $"{query}&cursor={Uri.EscapeDataString(next)}",
        };
        using var response = await http.GetAsync(path, ct);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return PreceptJobList.Read(doc.RootElement);
    }

    /// <summary>Reads Precept's error text: <c>{"error":...}</c> or <c>{"message":...}</c>, else the status.</summary>
    public static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var doc = JsonDocument.Parse(text);
            foreach (var name in new[] { "error", "message" })
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                    return value.GetString()!;
        }
        catch (JsonException)
        {
        }
        return $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
    }
}
