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
    /// The job we submitted under <paramref name="name"/> (GET /v1/jobs?name=): how a submit whose answer was
    /// lost is found again, since Precept takes no idempotency key. Null when Precept has no such job.
    /// </summary>
    public async Task<string?> FindJobIdByNameAsync(string name, CancellationToken ct)
    {
        using var response = await http.GetAsync($"v1/jobs?limit=5&name={Uri.EscapeDataString(name)}", ct);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        if (!doc.RootElement.TryGetProperty("jobs", out var jobs) || jobs.ValueKind != JsonValueKind.Array)
            return null;
        return jobs.EnumerateArray()
            .Where(j => j.TryGetProperty("name", out var n) && n.GetString() == name)
            .Select(j => j.TryGetProperty("enrichment_id", out var id) ? id.GetString() : null)
            .FirstOrDefault(id => id is not null);
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
