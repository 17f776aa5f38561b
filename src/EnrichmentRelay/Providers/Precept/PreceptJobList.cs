using System.Globalization;
using System.Text.Json;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>A job as <c>GET /v1/jobs</c> lists it: whatever of its id, name and creation time the listing shows.</summary>
public sealed record PreceptListedJob(string Id, string? Name, DateTimeOffset? CreatedAt);

/// <summary>
/// A page of <c>GET /v1/jobs</c>, read without knowing its shape: Precept documents the route only as
/// <c>?limit=1</c> (providers.md §2.2 (c)). The jobs are the body itself when it is an array, else the first array
/// under a usual name (<c>jobs</c>, <c>data</c>, <c>results</c>, <c>items</c>, …); a job's id is its
/// <c>enrichment_id</c> or <c>id</c>; the next page is a <c>next</c> link or cursor when the body has one.
/// </summary>
public sealed record PreceptJobList(IReadOnlyList<PreceptListedJob> Jobs, string? Next)
{
    public const int PageSize = 100;

    static readonly string[] ListNames = ["jobs", "data", "results", "items", "enrichments", "records"];
    static readonly string[] IdNames = ["enrichment_id", "enrichmentId", "id", "job_id", "jobId"];
    static readonly string[] CreatedNames = ["created_at", "createdAt", "created", "timestamp"];
    static readonly string[] NextNames = ["next", "next_page", "nextPage", "next_cursor", "nextCursor", "cursor"];

    public static PreceptJobList Read(JsonElement root)
    {
        var list = root.ValueKind == JsonValueKind.Array ? root
            : root.ValueKind != JsonValueKind.Object ? default
            : ListNames.Select(n => root.TryGetProperty(n, out var v) ? v : default).FirstOrDefault(v => v.ValueKind == JsonValueKind.Array) is { ValueKind: JsonValueKind.Array } named
                ? named
                : root.EnumerateObject().Select(p => p.Value).FirstOrDefault(v => v.ValueKind == JsonValueKind.Array);
        var jobs = list.ValueKind != JsonValueKind.Array ? []
            : list.EnumerateArray()
                .Select(j => (Job: j, Id: Text(j, IdNames)))
                .Where(x => x.Id is not null)
                .Select(x => new PreceptListedJob(x.Id!, Text(x.Job, "name"), Instant(Text(x.Job, CreatedNames))))
                .ToList();
        return new PreceptJobList(jobs, root.ValueKind == JsonValueKind.Object ? NextOf(root) : null);
    }

    /// <summary>A next link within the API (<c>/v1/jobs?page=2</c>), rather than an opaque cursor.</summary>
    public static bool IsRelativePath(string next) => next.StartsWith('/') || next.StartsWith("v1/", StringComparison.Ordinal);

    static string? NextOf(JsonElement root)
    {
        var next = new[] { "links", "pagination", "meta" }
            .Select(holder => root.TryGetProperty(holder, out var h) ? Text(h, NextNames) : null)
            .FirstOrDefault(n => n is not null) ?? Text(root, NextNames);
        // An absolute link is taken by its path: the client only ever talks to its own base address.
        if (next is not null && Uri.TryCreate(next, UriKind.Absolute, out var absolute) && absolute.Scheme.StartsWith("http", StringComparison.Ordinal))
            next = absolute.PathAndQuery;
        return next;
    }

    static string? Text(JsonElement e, params string[] names)
    {
        if (e.ValueKind != JsonValueKind.Object)
            return null;
        foreach (var name in names)
            if (e.TryGetProperty(name, out var v))
            {
                if (v.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetString()))
                    return v.GetString();
                if (v.ValueKind == JsonValueKind.Number)
                    return v.GetRawText();
            }
        return null;
    }

    static DateTimeOffset? Instant(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
}
