using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>What Precept said about a job: from a callback body or from <c>GET /v1/jobs/{id}</c>.</summary>
/// <param name="CostCredits">What the job cost (<c>cost.credits</c>), for the whole job: Precept does not say it per lead.</param>
/// <param name="Total">How many leads the job holds (<c>progress.total</c>), when shown.</param>
/// <param name="Skipped">How many of them Precept skipped without looking (<c>progress.skipped</c>), when shown.</param>
public sealed record PreceptJobReport(string? EnrichmentId, string? Name, string? Status, IReadOnlyList<JsonElement> Results,
    decimal? CostCredits = null, int? Total = null, int? Skipped = null)
{
    public bool IsFailed => string.Equals(Status, "failed", StringComparison.OrdinalIgnoreCase);
    public bool IsCompleted => string.Equals(Status, "completed", StringComparison.OrdinalIgnoreCase);

    public static PreceptJobReport Read(JsonElement root)
    {
        var isObject = root.ValueKind == JsonValueKind.Object;
        string? Text(string name) => isObject && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var results = isObject && root.TryGetProperty("results", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Select(e => e.Clone()).ToList() : [];
        var cost = isObject && root.TryGetProperty("cost", out var c) && c.ValueKind == JsonValueKind.Object
                   && c.TryGetProperty("credits", out var credits) && credits.ValueKind == JsonValueKind.Number && credits.TryGetDecimal(out var amount)
            ? amount : (decimal?)null;
        var progress = isObject && root.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        int? Count(string name) => progress.ValueKind == JsonValueKind.Object && progress.TryGetProperty(name, out var n)
                                   && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out var value) ? value : null;
        return new PreceptJobReport(Text("enrichment_id"), Text("name"), Text("status"), results, cost, Count("total"), Count("skipped"));
    }
}

/// <summary>
/// Applies a Precept report to a job's requests, however it arrived (callback, verification read, or the sweep for
/// missing callbacks). Each (job, lead) result is applied once: the request it completes is terminal after it. A lead
/// left without a result when the job ends is never reported as NotFound: Precept did not say it looked.
/// </summary>
public sealed class PreceptJobReports(RelayDbContext db, RequestCompletion completion, TimeProvider time, ILogger<PreceptJobReports> logger)
{
    public const string UnmatchedDetail = "Precept returned a result for this job that could not be matched to this lead (result could not be matched): " +
                                          "it may have found, and charged for, a contact.";

    /// <summary>Applies the report; returns how many requests it completed.</summary>
    public async Task<int> ApplyAsync(ProviderJobRecord job, PreceptJobReport report, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var requests = await db.Requests.Where(r => r.ProviderJobId == job.Id).ToDictionaryAsync(r => r.RequestId, ct);
        var matcher = new PreceptResultMatcher(requests);
        var completed = 0;
        var unmatched = 0;

        // A failed job applies the results it carries too: those leads were worked (and charged).
        foreach (var item in report.Results)
        {
            if (matcher.Match(item) is not { } request)
            {
                unmatched++;
                continue;
            }
            // A lead's result is applied once: its request is terminal from then on, so a retried or duplicated
            // delivery (or the sweep reading the same job) finds it completed and changes nothing.
            if (completion.Complete(request, PreceptResults.Normalize(item, LedgerViews.ReadRequest(request).Fields ?? [])))
                completed++;
        }
        if (unmatched > 0)
            logger.LogWarning("{Count} Precept results for job {JobName} match none of its requests", unmatched, job.Name);

        if (report.IsCompleted || report.IsFailed)
        {
            var left = requests.Values.Where(q => q.State != RequestState.Completed).ToList();
            var detail = report.IsFailed ? "Precept reported the job as failed before this lead had a result."
                : unmatched > 0 ? UnmatchedDetail
                : $"Precept skipped this lead without looking for it (the job ended with no result for it{SkippedCount(report)}).";
            foreach (var request in left)
                if (completion.Complete(request, new CompletionResult(Outcome.Failed, Detail: detail)))
                    completed++;
        }

        // Precept charges per job: its final cost is what this job charged, whichever report brought it.
        if ((report.IsCompleted || report.IsFailed) && report.CostCredits is { } cost)
            await completion.ChargeJobAsync(job, cost, ct);

        if (requests.Values.All(q => q.State == RequestState.Completed) && job.State != ProviderJobState.Completed)
        {
            job.State = ProviderJobState.Completed;
            job.CompletedAt = now;
        }
        return completed;
    }

    static string SkippedCount(PreceptJobReport report) =>
        report.Skipped is > 0 ? $"; progress.skipped = {report.Skipped} of {report.Total?.ToString() ?? "?"}" : "";
}
