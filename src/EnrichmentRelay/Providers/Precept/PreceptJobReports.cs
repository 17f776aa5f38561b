using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>What Precept said about a job: from a callback body or from <c>GET /v1/jobs/{id}</c>.</summary>
/// <param name="CostCredits">What the job cost (<c>cost.credits</c>), for the whole job: Precept does not say it per lead.</param>
public sealed record PreceptJobReport(string? EnrichmentId, string? Name, string? Status, IReadOnlyList<JsonElement> Results, decimal? CostCredits = null)
{
    public bool IsFailed => string.Equals(Status, "failed", StringComparison.OrdinalIgnoreCase);
    public bool IsCompleted => string.Equals(Status, "completed", StringComparison.OrdinalIgnoreCase);

    public static PreceptJobReport Read(JsonElement root)
    {
        string? Text(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString() : null;
        var results = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("results", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Select(e => e.Clone()).ToList() : [];
        var cost = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("cost", out var c) && c.ValueKind == JsonValueKind.Object
                   && c.TryGetProperty("credits", out var credits) && credits.ValueKind == JsonValueKind.Number && credits.TryGetDecimal(out var amount)
            ? amount : (decimal?)null;
        return new PreceptJobReport(Text("enrichment_id"), Text("name"), Text("status"), results, cost);
    }
}

/// <summary>
/// Applies a Precept report to a job's requests, however it arrived (callback, verification read, or the
/// sweep for missing callbacks). Each (job, lead) result is applied once: the request it completes is terminal after it.
/// </summary>
public sealed class PreceptJobReports(RelayDbContext db, RequestCompletion completion, TimeProvider time, ILogger<PreceptJobReports> logger)
{
    /// <summary>Applies the report; returns how many requests it completed.</summary>
    public async Task<int> ApplyAsync(ProviderJobRecord job, PreceptJobReport report, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var requests = await db.Requests.Where(r => r.ProviderJobId == job.Id).ToDictionaryAsync(r => r.RequestId, ct);
        var completed = 0;

        if (report.IsFailed)
        {
            foreach (var request in requests.Values)
                if (completion.Complete(request, new CompletionResult(Outcome.Failed, Detail: "Precept reported the job as failed.")))
                    completed++;
        }
        else
        {
            foreach (var item in report.Results)
            {
                if (PreceptResults.RequestIdOf(item) is not { } requestId || !requests.TryGetValue(requestId, out var request))
                {
                    logger.LogWarning("A Precept result for job {JobName} matches none of its requests", job.Name);
                    continue;
                }
                // A lead's result is applied once: its request is terminal from then on, so a retried or duplicated
                // delivery (or the sweep reading the same job) finds it completed and changes nothing.
                if (completion.Complete(request, PreceptResults.Normalize(item, LedgerViews.ReadRequest(request).Fields ?? [])))
                    completed++;
            }
            // A completed job that left a lead out of its results skipped it.
            if (report.IsCompleted)
                foreach (var request in requests.Values.Where(q => q.State != RequestState.Completed))
                    if (completion.Complete(request, new CompletionResult(Outcome.NotFound, Detail: "Precept completed the job without a result for this lead (skipped).")))
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
}
