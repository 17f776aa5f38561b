using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// One poll of Woodpecker's open batches: lead batches through the list endpoint (with a created_after
/// that reaches past its 24-hour default), prospect batches through the status query, the email read
/// from the prospect record, and a deadline after which a request times out.
/// </summary>
public sealed class WoodpeckerPoller(
    RelayDbContext db,
    RequestCompletion completion,
    WoodpeckerClient client,
    IOptions<WoodpeckerOptions> options,
    TimeProvider time,
    ILogger<WoodpeckerPoller> logger)
{
    /// <summary>Credits Woodpecker charges for a lead or prospect it enriched with an email.</summary>
    const decimal CreditsPerEmail = 1.5m;
    const int MaxJobsPerPoll = 500;
    const int ProspectPageSize = 1000;
    const int MaxProspectPages = 10;

    // Converted leads of this poll, matched to their prospects in bulk after every batch was read.
    readonly List<(ProviderJobRecord Job, EnrichmentRequestRecord Request)> converted = [];

    WoodpeckerOptions Options => options.Value;

    public async Task PollAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var orphaned = now - SubmitCalls.OrphanWindow(Options.RequestTimeout);
        var jobs = await db.ProviderJobs
            .Where(j => j.Provider == ProviderName.Woodpecker
                        && (j.State == ProviderJobState.Submitted || j.State == ProviderJobState.SubmitUnknown
                            || (j.State == ProviderJobState.Submitting
                                && (j.SubmitStartedAt != null ? j.SubmitStartedAt <= orphaned : j.CreatedAt <= orphaned)))
                        && (j.NextPollAt == null || j.NextPollAt <= now))
            .OrderBy(j => j.NextPollAt)
            .Take(MaxJobsPerPoll)
            .ToListAsync(ct);
        if (jobs.Count == 0)
            return;
        var jobIds = jobs.Select(j => j.Id).ToList();
        var open = (await db.Requests
                .Where(r => r.ProviderJobId != null && jobIds.Contains(r.ProviderJobId.Value) && r.State == RequestState.Submitted)
                .ToListAsync(ct))
            .GroupBy(r => r.ProviderJobId!.Value)
            .ToDictionary(g => g.Key, g => g.ToList());
        // Orphans: reconciled like any submit of unknown fate, or queued again when their POST never left.
        foreach (var job in jobs.Where(j => j.State == ProviderJobState.Submitting).ToList())
            if (!SubmitCalls.TakeOverOrphan(job, open.GetValueOrDefault(job.Id) ?? [], now, logger))
            {
                jobs.Remove(job);
                open.Remove(job.Id);
            }

        var leadJobs = jobs.Where(j => j.Lane == WoodpeckerLeads.LeadsLane).ToList();
        var batches = leadJobs.Count == 0
            ? new Dictionary<string, WoodpeckerBatch>()
            : (await client.ListLeadEnrichmentsAsync(CreatedAfter(leadJobs), ct)).ToDictionary(b => b.Uuid);
        var prospectJobs = jobs.Where(j => j.Lane == WoodpeckerLeads.ProspectsLane).ToList();
        var statuses = await ProspectStatusesAsync(prospectJobs, open, ct);

        foreach (var job in jobs)
        {
            using var jobScope = logger.BeginJobScope(job);
            var requests = open.GetValueOrDefault(job.Id) ?? [];
            if (requests.Count > 0 && now - job.CreatedAt >= Options.Deadline)
            {
                foreach (var request in requests)
                    completion.Complete(request, new CompletionResult(Outcome.TimedOut,
                        Detail: $"Woodpecker had not finished this lead {Options.Deadline.TotalHours:0.#} h after it was submitted."));
            }
            else if (job.Lane == WoodpeckerLeads.LeadsLane)
                await PollLeadJobAsync(job, requests, batches, ct);
            else
                await PollProspectJobAsync(job, requests, statuses, ct);

            job.NextPollAt = now + PollGap(now - job.CreatedAt);
        }
        await CompleteConvertedAsync(ct);
        foreach (var job in jobs.Where(j => j.State == ProviderJobState.Submitted
                                            && (open.GetValueOrDefault(j.Id) ?? []).All(r => r.State == RequestState.Completed)))
        {
            job.State = ProviderJobState.Completed;
            job.CompletedAt = now;
        }
        await completion.SaveAsync(ct);
    }

    /// <summary>Young batches every tick; older ones less often, never slower than MaxPollInterval.</summary>
    internal TimeSpan PollGap(TimeSpan age)
    {
        var factor = age < TimeSpan.FromMinutes(10) ? 1 : age < TimeSpan.FromHours(1) ? 2 : age < TimeSpan.FromHours(6) ? 4 : 8;
        var gap = Options.PollInterval * factor;
        // Slightly under a whole number of ticks, so a job is due again on the tick it was meant for.
        gap -= TimeSpan.FromTicks(Options.PollInterval.Ticks / 10);
        return gap < Options.MaxPollInterval ? gap : Options.MaxPollInterval;
    }

    /// <summary>The list endpoint's filter is a day, and its default only the last 24 h: reach back a day before the oldest batch.</summary>
    static DateOnly CreatedAfter(IEnumerable<ProviderJobRecord> jobs) =>
        DateOnly.FromDateTime(jobs.Min(j => j.CreatedAt).UtcDateTime).AddDays(-1);

    async Task PollLeadJobAsync(ProviderJobRecord job, List<EnrichmentRequestRecord> requests,
        Dictionary<string, WoodpeckerBatch> batches, CancellationToken ct)
    {
        if (requests.Count == 0)
            return;
        var uids = requests.ToDictionary(r => r.RequestId, r => WoodpeckerLeads.UidOf(LedgerViews.ReadRequest(r))!);

        if (job.ExternalId is null && !Adopt(job, uids.Values, batches.Values))
        {
            ReleaseIfNeverArrived(job, requests);
            return;
        }
        var batch = batches.GetValueOrDefault(job.ExternalId!) ?? await client.GetLeadEnrichmentAsync(job.ExternalId!, ct);
        if (batch is null)
            return; // not visible yet; the next tick asks again

        foreach (var request in requests)
        {
            var lead = batch.Leads.FirstOrDefault(l => l.Uid == uids[request.RequestId]);
            if (lead is null)
            {
                completion.Complete(request, WoodpeckerLeads.LeftOut(job));
                continue;
            }
            if (lead.Status != "PROCESSED")
                continue;
            switch (lead.ProcessingResult)
            {
                case "NOT_CONVERTED_TO_PROSPECT":
                    completion.Complete(request, new CompletionResult(Outcome.NotFound, CreditsCharged: 0,
                        Detail: "Woodpecker found no email for this lead (NOT_CONVERTED_TO_PROSPECT)."));
                    break;
                case "CONVERTED_TO_PROSPECT":
                    // The email lives on the prospect the conversion created: found in bulk below.
                    converted.Add((job, request));
                    break;
                default:
                    completion.Complete(request, new CompletionResult(Outcome.Failed,
                        Detail: $"Woodpecker processed this lead with an unknown result '{lead.ProcessingResult}'."));
                    break;
            }
        }
    }

    /// <summary>
    /// A submit whose answer was lost: look for a batch created since that holds our uids (Woodpecker
    /// has no idempotency key, so this is how we learn whether the POST took effect).
    /// </summary>
    bool Adopt(ProviderJobRecord job, IEnumerable<string> uids, IEnumerable<WoodpeckerBatch> batches)
    {
        var wanted = uids.ToHashSet();
        var found = batches
            .Where(b => b.Created is null || b.Created >= job.CreatedAt - TimeSpan.FromMinutes(5))
            .Select(b => (Batch: b, Shared: b.Leads.Count(l => wanted.Contains(l.Uid))))
            .Where(x => x.Shared > 0)
            .OrderByDescending(x => x.Shared)
            .FirstOrDefault();
        if (found.Batch is null)
            return false;
        job.ExternalId = found.Batch.Uuid;
        job.State = ProviderJobState.Submitted;
        logger.LogWarning("Reconciled job {JobName}: Woodpecker holds it as batch {ProviderJobId}", job.Name, job.ExternalId);
        return true;
    }

    /// <summary>Still not at Woodpecker well after the lost submit: it never arrived, so the leads go in a new batch.</summary>
    void ReleaseIfNeverArrived(ProviderJobRecord job, List<EnrichmentRequestRecord> requests)
    {
        if (time.GetUtcNow() - job.SentAt < Options.ReconcileAfter)
            return;
        job.State = ProviderJobState.Refused;
        job.LastError = $"Not found at Woodpecker {Options.ReconcileAfter} after a submit whose answer was lost; its leads were queued again.";
        foreach (var request in requests)
            request.ReturnToWaiting();
        logger.LogWarning("Job {JobName} never reached Woodpecker; its {Count} leads will be submitted again", job.Name, requests.Count);
    }

    /// <summary>
    /// One read of the most recently updated prospects serves every lead converted since the last poll
    /// (a search per lead would cost a request each). A lead whose prospect is not visible yet stays
    /// open for the next tick.
    /// </summary>
    async Task CompleteConvertedAsync(CancellationToken ct)
    {
        if (converted.Count == 0)
            return;
        // A conversion cannot predate its batch: stop paging once prospects are older than the oldest one.
        var horizon = converted.Min(c => c.Job.CreatedAt) - TimeSpan.FromMinutes(5);
        var recent = new List<WoodpeckerProspect>();
        for (var page = 1; page <= MaxProspectPages; page++)
        {
            var prospects = await client.RecentProspectsAsync(page, ProspectPageSize, ct);
            recent.AddRange(prospects);
            if (prospects.Count < ProspectPageSize || prospects[^1].Updated is { } oldest && oldest < horizon)
                break;
        }

        foreach (var (job, request) in converted)
        {
            using var jobScope = logger.BeginJobScope(job);
            using var requestScope = logger.BeginRequestScope(request.RequestId);
            if (Match(LedgerViews.ReadRequest(request), recent)?.Email is { Length: > 0 } email)
                completion.Complete(request, new CompletionResult(Outcome.Found, [email], CreditsCharged: CreditsPerEmail));
            else
                logger.LogInformation("Lead {RequestId} converted but its prospect is not visible yet", request.RequestId);
        }
        converted.Clear();
    }

    /// <summary>The prospect carries no uid: match the LinkedIn URL first, then name with company or website.</summary>
    internal static WoodpeckerProspect? Match(EnrichmentRequested request, IEnumerable<WoodpeckerProspect> candidates)
    {
        var payload = request.Lead!.WoodpeckerLead!.Value;
        string? Field(string name) => payload.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var first = Field("first_name") ?? request.Lead.FirstName;
        var last = Field("last_name") ?? request.Lead.LastName;
        if ((first is null || last is null) && Field("full_name") is { } full && full.Split(' ', 2) is [var f, var l])
            (first, last) = (first ?? f, last ?? l);
        var linkedIn = WoodpeckerLeads.NormalizeLinkedIn(Field("linkedin_url") ?? request.Lead.LinkedInUrl);
        var company = Field("company_name") ?? request.Lead.CompanyName;
        var domain = WoodpeckerLeads.NormalizeDomain(Field("company_website") ?? request.Lead.CompanyDomain);

        bool SameName(WoodpeckerProspect p) =>
            string.Equals(p.FirstName?.Trim(), first?.Trim(), StringComparison.OrdinalIgnoreCase)
            && string.Equals(p.LastName?.Trim(), last?.Trim(), StringComparison.OrdinalIgnoreCase);
        var list = candidates as IReadOnlyCollection<WoodpeckerProspect> ?? candidates.ToList();
        return list.FirstOrDefault(p => linkedIn is not null && WoodpeckerLeads.NormalizeLinkedIn(p.LinkedInUrl) == linkedIn)
            ?? list.FirstOrDefault(p => first is not null && last is not null && SameName(p)
                && ((domain is not null && WoodpeckerLeads.NormalizeDomain(p.Website) == domain)
                    || (company is not null && string.Equals(p.Company?.Trim(), company.Trim(), StringComparison.OrdinalIgnoreCase))));
    }

    async Task<ILookup<string, WoodpeckerProspectStatus>> ProspectStatusesAsync(List<ProviderJobRecord> jobs,
        Dictionary<Guid, List<EnrichmentRequestRecord>> open, CancellationToken ct)
    {
        var emails = jobs.SelectMany(j => open.GetValueOrDefault(j.Id) ?? [])
            .Select(r => WoodpeckerLeads.ProspectEmailOf(LedgerViews.ReadRequest(r))!)
            .Distinct()
            .ToList();
        var statuses = new List<WoodpeckerProspectStatus>();
        foreach (var chunk in emails.Chunk(100))
            statuses.AddRange(await client.QueryProspectStatusesAsync(chunk, ct));
        return statuses.ToLookup(s => s.Email.Trim().ToLowerInvariant());
    }

    async Task PollProspectJobAsync(ProviderJobRecord job, List<EnrichmentRequestRecord> requests,
        ILookup<string, WoodpeckerProspectStatus> statuses, CancellationToken ct)
    {
        var emails = requests.ToDictionary(r => r.RequestId, r => WoodpeckerLeads.ProspectEmailOf(LedgerViews.ReadRequest(r))!);
        if (job.ExternalId is null)
        {
            var since = job.CreatedAt - TimeSpan.FromMinutes(5);
            var match = emails.Values.SelectMany(e => statuses[e]).FirstOrDefault(s => s.Created is null || s.Created >= since);
            if (match is null)
            {
                ReleaseIfNeverArrived(job, requests);
                return;
            }
            job.ExternalId = match.Uuid;
            job.State = ProviderJobState.Submitted;
        }

        var batchSeen = statuses.SelectMany(g => g).Any(s => s.Uuid == job.ExternalId);
        foreach (var request in requests)
        {
            var status = statuses[emails[request.RequestId]].FirstOrDefault(s => s.Uuid == job.ExternalId);
            if (status is null)
            {
                // The batch is visible but does not hold this prospect: Woodpecker left it out.
                if (batchSeen)
                    completion.Complete(request, WoodpeckerLeads.LeftOut(job));
                continue;
            }
            if (status.Status == "PROCESSED_ENRICHED")
            {
                var prospect = (await client.SearchProspectsAsync(new Dictionary<string, string> { ["email"] = emails[request.RequestId] }, ct))
                    .FirstOrDefault();
                completion.Complete(request, new CompletionResult(Outcome.Found, [prospect?.Email ?? emails[request.RequestId]],
                    CreditsCharged: CreditsPerEmail));
            }
            else if (status.Status?.StartsWith("PROCESSED", StringComparison.Ordinal) == true)
                completion.Complete(request, new CompletionResult(Outcome.NotFound, CreditsCharged: 0,
                    Detail: $"Woodpecker could not enrich this prospect ({status.Status})."));
            // PENDING or a status we do not know yet: look again next tick.
        }
    }
}
