using System.Buffers;
using System.Text;
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

    /// <summary>A report from its JSON text (a stored callback or answer), read whole.</summary>
    public static PreceptJobReport Read(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Read(doc.RootElement);
    }

    /// <summary>
    /// What a report's JSON says of the job only (its id, name and status; no results, cost or progress), read in one pass
    /// over the text without building a document: a verified callback's hint, from bodies of tens of kilobytes. Reads as
    /// <see cref="Read"/> does (a property given twice counts as its last value).
    /// </summary>
    public static PreceptJobReport ReadJob(string json)
    {
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            var reader = new Utf8JsonReader(bytes.AsSpan(0, Encoding.UTF8.GetBytes(json, bytes)));
            string? id = null, name = null, status = null;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return new PreceptJobReport(null, null, null, []);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var property = reader.ValueTextEquals("enrichment_id"u8) ? 1 : reader.ValueTextEquals("name"u8) ? 2 : reader.ValueTextEquals("status"u8) ? 3 : 0;
                reader.Read();
                var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
                switch (property)
                {
                    case 1: id = text; break;
                    case 2: name = text; break;
                    case 3: status = text; break;
                }
            }
            return new PreceptJobReport(id, name, status, []);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
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
