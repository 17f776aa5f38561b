using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers.Precept;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Dashboard;

/// <summary>The ledger questions the dashboard asks: counts and the few oldest or newest rows, never whole tables.</summary>
public sealed class DashboardQueries(RelayDbContext db, TimeProvider time, IOptions<PreceptOptions> precept)
{
    public static readonly TimeSpan ChartSpan = TimeSpan.FromHours(1);
    public static readonly TimeSpan ChartSlice = TimeSpan.FromMinutes(5);
    const int ListLength = 10;
    const int MaxCallbackShown = 20_000;
    const int MaxAnswersShown = 50;

    public async Task<DashboardOverview> OverviewAsync(bool unlocked, string? notice, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var requests = (await db.Requests.AsNoTracking()
                .GroupBy(r => new { r.Provider, r.State })
                .Select(g => new { g.Key.Provider, g.Key.State, Count = g.Count() })
                .ToListAsync(ct))
            .Select(g => new StateCount(Name(g.Provider), Name(g.State), g.Count))
            .ToList();

        var hourAgo = now - ChartSpan;
        var buckets = new List<CompletionBucket>();
        for (var from = hourAgo; from < now; from += ChartSlice)
        {
            var (start, end) = (from, from + ChartSlice);
            var outcomes = await db.Requests.AsNoTracking()
                .Where(r => r.CompletedAt >= start && r.CompletedAt < end && r.Outcome != null)
                .GroupBy(r => r.Outcome!.Value)
                .Select(g => new { Outcome = g.Key, Count = g.Count() })
                .ToDictionaryAsync(g => g.Outcome, g => g.Count, ct);
            buckets.Add(new CompletionBucket(start, outcomes));
        }

        // Woodpecker says what each request cost; Precept what a whole job cost. Summed as REAL: SQLite
        // stores the amounts so and cannot sum decimals (credits come in halves, which a double holds exactly).
        var perRequest = await db.Requests.AsNoTracking().Where(r => r.CreditsCharged != null && r.Provider != null)
            .GroupBy(r => r.Provider!.Value)
            .Select(g => new
            {
                Provider = g.Key,
                AllTime = g.Sum(r => (double)r.CreditsCharged!.Value),
                LastHour = g.Where(r => r.CompletedAt >= hourAgo).Sum(r => (double)r.CreditsCharged!.Value),
            })
            .ToListAsync(ct);
        var perJob = await db.ProviderJobs.AsNoTracking().Where(j => j.CreditsCharged != null)
            .GroupBy(j => j.Provider)
            .Select(g => new
            {
                Provider = g.Key,
                AllTime = g.Sum(j => (double)j.CreditsCharged!.Value),
                LastHour = g.Where(j => j.CompletedAt >= hourAgo).Sum(j => (double)j.CreditsCharged!.Value),
            })
            .ToListAsync(ct);
        var credits = perRequest.Concat(perJob)
            .GroupBy(c => c.Provider)
            .Select(g => new ProviderCredits(Name(g.Key), (decimal)g.Sum(c => c.LastHour), (decimal)g.Sum(c => c.AllTime)))
            .Where(c => c.AllTime != 0)
            .OrderBy(c => c.Provider)
            .ToList();

        var oldest = await db.Requests.AsNoTracking()
            .Where(r => r.State != RequestState.Completed)
            .OrderBy(r => r.AcceptedAt)
            .Select(r => new { r.RequestId, r.Provider, r.State, r.AcceptedAt })
            .FirstOrDefaultAsync(ct);

        // A Precept job whose callback should have come by now (the sweep reads these with GET /v1/jobs/{id}).
        var overdueSince = now - precept.Value.CallbackGrace;
        var overdue = db.ProviderJobs.AsNoTracking()
            .Where(j => j.Provider == ProviderName.Precept && j.State == ProviderJobState.Submitted && j.SubmittedAt <= overdueSince);
        var overdueCount = await overdue.CountAsync(ct);
        var overdueJobs = await overdue.OrderBy(j => j.SubmittedAt).Take(ListLength)
            .Select(j => new
            {
                j.Id, j.ExternalId, j.SubmittedAt,
                Open = db.Requests.Count(r => r.ProviderJobId == j.Id && r.State != RequestState.Completed),
            })
            .ToListAsync(ct);

        var parked = db.ProviderJobs.AsNoTracking().Where(j => j.State == ProviderJobState.NeedsAttention);
        var parkedCount = await parked.CountAsync(ct);
        var parkedJobs = (await parked.OrderBy(j => j.CreatedAt).Take(ListLength)
                .Select(j => new { j.Id, j.Provider, j.CreatedAt, Open = db.Requests.Count(r => r.ProviderJobId == j.Id && r.State != RequestState.Completed) })
                .ToListAsync(ct))
            .Select(j => new AttentionJob(j.Id, ProviderJobRecord.NameOf(j.Id), Name(j.Provider), j.CreatedAt, j.Open))
            .ToList();

        var pendingLetters = db.DeadLetters.AsNoTracking().Where(d => d.ReplayedAt == null);
        var letters = await pendingLetters.OrderByDescending(d => d.FaultedAt).Take(ListLength).ToListAsync(ct);

        var oldestUnsent = await db.Outbox.AsNoTracking().Where(m => m.SentAt == null).OrderBy(m => m.Id)
            .Select(m => (DateTimeOffset?)m.CreatedAt).FirstOrDefaultAsync(ct);

        return new DashboardOverview(now, requests, buckets, credits,
            oldest is null ? null : new OpenRequest(oldest.RequestId, Name(oldest.Provider), Name(oldest.State), oldest.AcceptedAt),
            overdueJobs.Select(j => new OverdueJob(ProviderJobRecord.NameOf(j.Id), j.ExternalId, j.SubmittedAt!.Value, j.Open)).ToList(),
            overdueCount,
            parkedJobs,
            parkedCount,
            await pendingLetters.CountAsync(ct),
            letters.Select(DeadLetterSummary.Of).ToList(),
            oldestUnsent,
            unlocked,
            notice);
    }

    public async Task<RequestHistory?> HistoryAsync(Guid requestId, CancellationToken ct)
    {
        var record = await db.Requests.AsNoTracking().Include(r => r.ProviderJob).SingleOrDefaultAsync(r => r.RequestId == requestId, ct);
        if (record is null)
            return null;
        var job = record.ProviderJob;
        var callbacks = job is null
            ? []
            : await db.ProviderCallbacks.AsNoTracking().Where(c => c.ProviderJobId == job.Id).OrderBy(c => c.Id).ToListAsync(ct);
        var attempts = await db.Attempts.AsNoTracking().Where(a => a.RequestId == requestId).ToListAsync(ct);
        var jobIds = attempts.Select(a => a.JobId).ToList();
        var answers = await db.ProviderAnswerLinks.AsNoTracking().Where(l => jobIds.Contains(l.JobId))
            .Select(l => l.Answer!).Distinct().OrderBy(a => a.Id).Take(MaxAnswersShown).ToListAsync(ct);
        // The event that holds its result now: a correction's, once the request was re-normalized.
        var eventId = EnrichmentCompleted.EventIdFor(requestId, record.Revision);
        var published = await db.Outbox.AsNoTracking().Where(m => m.MessageId == eventId).OrderBy(m => m.Id).FirstOrDefaultAsync(ct);

        return new RequestHistory(record.RequestId, Name(record.State), record.Provider is null ? null : Name(record.Provider),
            Pretty(record.RequestJson), record.AcceptedAt, record.SubmittedAt, record.CompletedAt, record.Outcome, record.Detail,
            LedgerViews.Attempts(attempts),
            job is null ? null : new JobView(job.Name, Name(job.Provider), Name(job.State), job.ExternalId, job.SubmitAnswer, job.RequestCount,
                job.CreatedAt, job.SubmittedAt, job.CompletedAt, job.LastError),
            callbacks.Select(c => new CallbackView(c.Id, c.ReceivedAt, c.ProcessedAt, c.IsMalformed,
                c.Body.Length > MaxCallbackShown ? c.Body[..MaxCallbackShown] + $"… ({c.Body.Length:N0} characters in all)" : Pretty(c.Body))).ToList(),
            answers.Select(a => new AnswerView(a.Id, Name(a.Provider), a.Endpoint, a.Status, a.Error, a.ReceivedAt,
                a.Body is null ? null : a.Body.Length > MaxCallbackShown ? a.Body[..MaxCallbackShown] + $"… ({a.Body.Length:N0} characters in all)" : Pretty(a.Body))).ToList(),
            record.ProviderState is null ? null : Pretty(record.ProviderState),
            published is null ? null : new EventView(published.MessageId, published.CreatedAt, published.SentAt, Pretty(published.Body)));
    }

    /// <summary>The wire name: camelCase, as on the bus and over HTTP.</summary>
    public static string Name<T>(T? value) where T : struct, Enum =>
        value is { } v ? JsonNamingPolicy.CamelCase.ConvertName(v.ToString()) : "none";

    public static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    // Shown as HTML-encoded text, so nothing needs escaping for a script context ("+" stays "+").
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Pretty(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return JsonSerializer.Serialize(doc.RootElement, Indented);
        }
        catch (JsonException)
        {
            return json;
        }
    }
}
