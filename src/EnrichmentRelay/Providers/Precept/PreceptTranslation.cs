using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

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

    /// <param name="withResults">False reads what the report says of the job only (its results left empty): all a verified
    /// callback's hint needs, without copying a hundred results out of each body.</param>
    public static PreceptJobReport Read(JsonElement root, bool withResults = true)
    {
        var isObject = root.ValueKind == JsonValueKind.Object;
        string? Text(string name) => isObject && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var results = withResults && isObject && root.TryGetProperty("results", out var r) && r.ValueKind == JsonValueKind.Array
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
/// What a Precept report (a callback, or <c>GET /v1/jobs/{id}</c>) says of a job's leads: a pure function of the report
/// and the leads, so a stored answer can be translated again. Each item is matched to its lead; once the job has ended,
/// a lead left without a result is never reported as NotFound: Precept did not say it looked.
/// </summary>
public static class PreceptTranslation
{
    public const string UnmatchedDetail = "Precept returned a result for this job that could not be matched to this lead (result could not be matched): " +
                                          "it may have found, and charged for, a contact.";

    /// <param name="leads">Every lead of the job, those already ended included (to recognise repeats of their results).</param>
    /// <returns>The results of the open leads it decides, and how many items matched no lead.</returns>
    /// <param name="phoneFormat">How found phone numbers are written (<see cref="PreceptOptions.PhoneFormat"/>).</param>
    public static (IReadOnlyDictionary<Guid, LeadResult> Completed, int Unmatched) Translate(PreceptJobReport report, IReadOnlyCollection<OpenLead> leads,
        PhoneFormat phoneFormat = PhoneFormat.AsReceived)
    {
        var matcher = new PreceptResultMatcher(leads);
        var completed = new Dictionary<Guid, LeadResult>();
        var unmatched = 0;
        // A failed job's results count too: those leads were worked (and charged).
        foreach (var item in report.Results)
        {
            if (matcher.Match(item) is not { } lead)
                unmatched++;
            else if (!lead.Ended)
                completed.TryAdd(lead.RequestId, PreceptResults.Normalize(item, lead.Request.Fields ?? [], phoneFormat));
        }
        if (report.IsCompleted || report.IsFailed)
        {
            var detail = report.IsFailed ? "Precept reported the job as failed before this lead had a result."
                : unmatched > 0 ? UnmatchedDetail
                : $"Precept skipped this lead without looking for it (the job ended with no result for it{SkippedCount(report)}).";
            foreach (var lead in leads.Where(l => !l.Ended && !completed.ContainsKey(l.RequestId)))
                completed[lead.RequestId] = new LeadResult(Outcome.Failed, Detail: detail);
        }
        return (completed, unmatched);
    }

    /// <summary>The report as a reading of <paramref name="job"/>: its leads' results, and, once it ended, its cost.</summary>
    public static JobReading Reading(OpenJob job, PreceptJobReport report, ILogger logger, PhoneFormat phoneFormat = PhoneFormat.AsReceived)
    {
        var (completed, unmatched) = Translate(report, job.Leads, phoneFormat);
        if (unmatched > 0)
            logger.LogWarning("{Count} Precept results for job {JobName} match none of its requests", unmatched, job.Name);
        return new JobReading(job.Id)
        {
            Completed = completed,
            // Precept charges per job: its final cost is what this job charged, whichever report brought it.
            JobCredits = report.IsCompleted || report.IsFailed ? report.CostCredits : null,
        };
    }

    static string SkippedCount(PreceptJobReport report) =>
        report.Skipped is > 0 ? $"; progress.skipped = {report.Skipped} of {report.Total?.ToString() ?? "?"}" : "";
}
