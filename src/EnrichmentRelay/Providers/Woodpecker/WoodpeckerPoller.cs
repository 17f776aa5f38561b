using EnrichmentRelay.Jobs;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// One poll of Woodpecker's open batches: lead batches through the list endpoint (with a created_after that reaches
/// past its 24-hour default), prospect batches through the status query, the email read from the prospect record,
/// leads Woodpecker did not queue again followed to the batch that already held them, and a deadline after which a
/// request times out. What each answer means is in <see cref="WoodpeckerOutcomes"/>.
/// </summary>
public sealed class WoodpeckerPoller(
    RelayDbContext db,
    RequestCompletion completion,
    WoodpeckerClient client,
    ProviderPauses pauses,
    IOptions<WoodpeckerOptions> options,
    TimeProvider time,
    ILogger<WoodpeckerPoller> logger)
{
    const int MaxJobsPerPoll = 500;
    const int ProspectPageSize = 1000;
    const int MaxProspectPages = 10;
    /// <summary>Prospect searches one poll makes for converted leads the recent pages did not show; the rest wait a tick.</summary>
    const int MaxSearchesPerPoll = 100;

    // Within one poll: converted leads, matched to their prospects in bulk once every batch was read; leads that neither
    // their job's batch nor a followed one holds; batches read by uuid; which batches this relay submitted itself.
    readonly List<OpenRequest> converted = [];
    readonly List<OpenRequest> unplaced = [];
    readonly Dictionary<string, WoodpeckerBatch?> readByUuid = [];
    readonly Dictionary<string, bool> submittedHere = [];

    WoodpeckerOptions Options => options.Value;

    public async Task PollAsync(CancellationToken ct)
    {
        // A paused Woodpecker (its key refused) rests until its next probe; this poll may be that probe.
        if (pauses.Holds(ProviderName.Woodpecker))
            return;
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
        var byId = jobs.ToDictionary(j => j.Id);
        var open = (await db.Requests
                .Where(r => r.ProviderJobId != null && byId.Keys.Contains(r.ProviderJobId.Value) && r.State == RequestState.Submitted)
                .ToListAsync(ct))
            .Select(r => new OpenRequest(byId[r.ProviderJobId!.Value], r))
            .GroupBy(r => r.Job.Id)
            .ToDictionary(g => g.Key, g => g.ToList());
        // Orphans: reconciled like any submit of unknown fate, or queued again when their POST never left.
        foreach (var job in jobs.Where(j => j.State == ProviderJobState.Submitting).ToList())
            if (!SubmitCalls.TakeOverOrphan(job, (open.GetValueOrDefault(job.Id) ?? []).Select(o => o.Record), now, logger))
            {
                jobs.Remove(job);
                open.Remove(job.Id);
            }

        var leadJobs = jobs.Where(j => j.Lane == WoodpeckerLeads.LeadsLane).ToList();
        var listing = leadJobs.Count == 0 ? BatchListing.Empty : await ListAsync(ListSince(leadJobs, open), ct);
        var prospectJobs = jobs.Where(j => j.Lane == WoodpeckerLeads.ProspectsLane).ToList();
        var statuses = await ProspectStatusesAsync(prospectJobs, open, ct);

        foreach (var job in jobs)
        {
            using var jobScope = logger.BeginJobScope(job);
            var requests = open.GetValueOrDefault(job.Id) ?? [];
            if (requests.Count > 0 && now - job.CreatedAt >= Options.Deadline)
            {
                foreach (var request in requests)
                    Complete(request, WoodpeckerOutcomes.AtDeadline(request.State, job.Lane, Options.Deadline, await FollowedAsync(request, ct)));
            }
            else if (job.Lane == WoodpeckerLeads.LeadsLane)
                await PollLeadJobAsync(job, requests, listing, ct);
            else
                await PollProspectJobAsync(job, requests, statuses, ct);

            job.NextPollAt = now + PollGap(now - job.CreatedAt);
        }
        await PlaceLeftOutLeadsAsync(listing, ct);
        await CompleteConvertedAsync(ct);
        foreach (var job in jobs.Where(j => j.State == ProviderJobState.Submitted
                                            && (open.GetValueOrDefault(j.Id) ?? []).All(r => r.Record.State == RequestState.Completed)))
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

    /// <summary>
    /// The oldest batch this poll must see: each lead job's, each followed batch's, and for a NOT_ENQUEUED submit the
    /// look-back before it (the batch already holding its leads may be older than the submit).
    /// </summary>
    DateTimeOffset ListSince(List<ProviderJobRecord> leadJobs, Dictionary<Guid, List<OpenRequest>> open)
    {
        var since = leadJobs.Min(j => j.CreatedAt);
        foreach (var job in leadJobs)
        {
            foreach (var request in open.GetValueOrDefault(job.Id) ?? [])
            {
                if (request.State.BatchCreated is { } created && created < since)
                    since = created;
                else if (request.State.Batch is null && job.SubmitAnswer == WoodpeckerStatus.NotEnqueued && SubmittedAt(job) - Options.PendingLookBack < since)
                    since = SubmittedAt(job) - Options.PendingLookBack;
            }
        }
        return since;
    }

    /// <summary>
    /// The list's <c>created_after</c> is a day, and the pages do not say whether that day is included nor in which
    /// time zone it is read: two days before the instant covers every reading.
    /// </summary>
    internal static DateOnly CreatedAfter(DateTimeOffset since) => DateOnly.FromDateTime(since.UtcDateTime).AddDays(-2);

    async Task<BatchListing> ListAsync(DateTimeOffset since, CancellationToken ct)
    {
        var createdAfter = CreatedAfter(since);
        return new BatchListing(createdAfter, await client.ListLeadEnrichmentsAsync(createdAfter, ct));
    }

    static DateTimeOffset SubmittedAt(ProviderJobRecord job) => job.SubmittedAt ?? job.CreatedAt;

    async Task PollLeadJobAsync(ProviderJobRecord job, List<OpenRequest> requests, BatchListing listing, CancellationToken ct)
    {
        if (requests.Count == 0)
            return;
        if (job.ExternalId is null && job.SubmitAnswer != WoodpeckerStatus.NotEnqueued)
        {
            if (!Adopt(job, requests.Select(r => Uid(r)), listing.Batches))
            {
                ReleaseIfNeverArrived(job, requests);
                return;
            }
        }
        WoodpeckerBatch? own = null;
        if (job.ExternalId is { } uuid && (own = await BatchAsync(uuid, listing, ct)) is null)
            return; // not visible yet; the next tick asks again

        foreach (var request in requests)
        {
            var uid = Uid(request);
            if (own?.Leads.FirstOrDefault(l => l.Uid == uid) is { } lead)
                Apply(request, lead);
            else if (request.State.Batch is { } followed)
            {
                // Not visible at this moment: the next tick asks again, and the deadline bounds how long.
                if ((await BatchAsync(followed, listing, ct))?.Leads.FirstOrDefault(l => l.Uid == uid) is { } held)
                {
                    request.Followed = await FollowedAsync(request, ct);
                    Apply(request, held);
                }
            }
            else
                unplaced.Add(request);
        }
    }

    /// <summary>What a processed lead means; a pending one (or a status the relay does not know) is looked at again next tick.</summary>
    void Apply(OpenRequest request, WoodpeckerBatchLead lead)
    {
        if (lead.Status != WoodpeckerStatus.Processed)
            return;
        switch (lead.ProcessingResult)
        {
            case WoodpeckerStatus.NotConvertedToProspect:
                Complete(request, WoodpeckerOutcomes.NotConverted(request.Followed));
                break;
            case WoodpeckerStatus.ConvertedToProspect:
                // The email lives on the prospect the conversion created: found in bulk once every batch was read.
                converted.Add(request);
                break;
            default:
                Complete(request, WoodpeckerOutcomes.UnknownResult(lead.ProcessingResult, request.Followed));
                break;
        }
    }

    async Task<WoodpeckerBatch?> BatchAsync(string uuid, BatchListing listing, CancellationToken ct)
    {
        if (listing.Find(uuid) is { } listed)
            return listed;
        if (!readByUuid.TryGetValue(uuid, out var batch))
            readByUuid[uuid] = batch = await client.GetLeadEnrichmentAsync(uuid, ct);
        return batch;
    }

    /// <summary>
    /// Leads Woodpecker left out of their submit's batch (or did not queue at all): it does not say why, but its pages
    /// give two reasons, leads already pending and credits. A lead some batch already holds is followed to that
    /// batch's result; one that none holds is short of credits when the submit said so, and failed otherwise once it
    /// has been looked for as long as a lost submit would be (<see cref="WoodpeckerOptions.ReconcileAfter"/>).
    /// </summary>
    async Task PlaceLeftOutLeadsAsync(BatchListing listing, CancellationToken ct)
    {
        if (unplaced.Count == 0)
            return;
        var createdAfter = CreatedAfter(unplaced.Min(r => SubmittedAt(r.Job)) - Options.PendingLookBack);
        if (createdAfter < listing.CreatedAfter)
            listing = new BatchListing(createdAfter, await client.ListLeadEnrichmentsAsync(createdAfter, ct));

        var now = time.GetUtcNow();
        foreach (var request in unplaced)
        {
            using var jobScope = logger.BeginJobScope(request.Job);
            using var requestScope = logger.BeginRequestScope(request.Record.RequestId);
            var uid = Uid(request);
            var submitted = SubmittedAt(request.Job);
            var holder = listing.Holding(uid)
                .Where(b => b.Uuid != request.Job.ExternalId && (b.Created is null || b.Created >= submitted - Options.PendingLookBack))
                .OrderByDescending(b => b.Created ?? DateTimeOffset.MaxValue)
                .FirstOrDefault();
            if (holder is not null)
            {
                request.State = request.State with { Batch = holder.Uuid, BatchCreated = holder.Created };
                request.State.WriteTo(request.Record);
                request.Followed = await FollowedAsync(request, ct);
                logger.LogInformation("Woodpecker did not queue lead {RequestId} with its submit ({SubmitAnswer}); batch {Batch} already holds it and is followed",
                    request.Record.RequestId, request.Job.SubmitAnswer, holder.Uuid);
                Apply(request, holder.Leads.First(l => l.Uid == uid));
            }
            else if (WoodpeckerStatus.LeftOutForCredits(request.Job.SubmitAnswer))
                Complete(request, WoodpeckerOutcomes.LeftOutForCredits(request.Job.SubmitAnswer));
            else if (now - submitted >= Options.ReconcileAfter)
            {
                logger.LogWarning("No Woodpecker batch holds lead {RequestId}, which its submit did not queue ({SubmitAnswer}); completing it failed",
                    request.Record.RequestId, request.Job.SubmitAnswer);
                Complete(request, WoodpeckerOutcomes.PendingBatchNotFound(request.Job.SubmitAnswer, request.Job.ExternalId,
                    Options.PendingLookBack, Options.ReconcileAfter));
            }
        }
        unplaced.Clear();
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
    void ReleaseIfNeverArrived(ProviderJobRecord job, List<OpenRequest> requests)
    {
        if (time.GetUtcNow() - job.SentAt < Options.ReconcileAfter)
            return;
        job.State = ProviderJobState.Refused;
        job.LastError = $"Not found at Woodpecker {Options.ReconcileAfter} after a submit whose answer was lost; its leads were queued again.";
        foreach (var request in requests)
            request.Record.ReturnToWaiting();
        logger.LogWarning("Job {JobName} never reached Woodpecker; its {Count} leads will be submitted again", job.Name, requests.Count);
    }

    /// <summary>
    /// Converted leads of this poll, matched to their prospects. One read of the most recently updated prospects
    /// serves them all (a search per lead would cost a request each); the vendor documents <c>sort</c> but not that
    /// <c>updated</c> may be sorted on, so a lead those pages do not show is searched for by name with company or
    /// website. A prospect not found yet is looked for again next tick, for <see cref="WoodpeckerOptions.ProspectMatchTimeout"/>.
    /// </summary>
    async Task CompleteConvertedAsync(CancellationToken ct)
    {
        if (converted.Count == 0)
            return;
        var now = time.GetUtcNow();
        foreach (var request in converted.Where(r => r.State.FoundAt is null))
        {
            request.State = request.State with { FoundAt = now };
            request.State.WriteTo(request.Record);
        }

        var recent = await RecentProspectsAsync(converted.Min(c => c.State.BatchCreated ?? c.Job.CreatedAt), ct);
        var unmatched = new List<(OpenRequest Request, ConvertedLead Lead)>();
        foreach (var request in converted)
        {
            var lead = ConvertedLead.Of(request.Request);
            if (lead.Match(recent)?.Email is { Length: > 0 } email)
                Complete(request, WoodpeckerOutcomes.ConvertedFound(email, request.Followed));
            else
                unmatched.Add((request, lead));
        }

        var searched = new Dictionary<string, IReadOnlyList<WoodpeckerProspect>>();
        foreach (var (request, lead) in unmatched.OrderBy(u => u.Request.State.FoundAt))
        {
            using var jobScope = logger.BeginJobScope(request.Job);
            using var requestScope = logger.BeginRequestScope(request.Record.RequestId);
            if (lead.SearchCriteria() is { } criteria)
            {
                var key = string.Join('\n', criteria.Select(c => $"{c.Key}={c.Value}"));
                if (!searched.TryGetValue(key, out var found) && searched.Count < MaxSearchesPerPoll)
                    searched[key] = found = await client.SearchProspectsAsync(criteria, ct);
                if (found is not null && lead.Match(found)?.Email is { Length: > 0 } email)
                {
                    Complete(request, WoodpeckerOutcomes.ConvertedFound(email, request.Followed));
                    continue;
                }
            }
            if (now - request.State.FoundAt >= Options.ProspectMatchTimeout)
            {
                logger.LogWarning("Lead {RequestId} converted, but its prospect was not matched within {Timeout}; completing it failed",
                    request.Record.RequestId, Options.ProspectMatchTimeout);
                Complete(request, WoodpeckerOutcomes.ConvertedUnmatched(Options.ProspectMatchTimeout, request.Followed));
            }
            else
                logger.LogInformation("Lead {RequestId} converted but its prospect is not visible yet", request.Record.RequestId);
        }
        converted.Clear();
    }

    /// <summary>
    /// Prospects asked for most recently updated first, page by page back to <paramref name="since"/> (a conversion
    /// cannot predate its batch). A page that is not in that order shows the sort is not honoured: paging stops there.
    /// </summary>
    async Task<List<WoodpeckerProspect>> RecentProspectsAsync(DateTimeOffset since, CancellationToken ct)
    {
        var horizon = since - TimeSpan.FromMinutes(5);
        var recent = new List<WoodpeckerProspect>();
        for (var page = 1; page <= MaxProspectPages; page++)
        {
            var prospects = await client.RecentProspectsAsync(page, ProspectPageSize, ct);
            recent.AddRange(prospects);
            var newestFirst = prospects.Zip(prospects.Skip(1)).All(p => p.First.Updated is null || p.Second.Updated is null || p.First.Updated >= p.Second.Updated);
            if (prospects.Count < ProspectPageSize || !newestFirst || prospects[^1].Updated is { } oldest && oldest < horizon)
                break;
        }
        return recent;
    }

    async Task<ILookup<string, WoodpeckerProspectStatus>> ProspectStatusesAsync(List<ProviderJobRecord> jobs,
        Dictionary<Guid, List<OpenRequest>> open, CancellationToken ct)
    {
        var emails = jobs.SelectMany(j => open.GetValueOrDefault(j.Id) ?? [])
            .Select(r => WoodpeckerLeads.ProspectEmailOf(r.Request)!)
            .Distinct()
            .ToList();
        var statuses = new List<WoodpeckerProspectStatus>();
        foreach (var chunk in emails.Chunk(100))
            statuses.AddRange(await client.QueryProspectStatusesAsync(chunk, ct));
        return statuses.ToLookup(s => s.Email.Trim().ToLowerInvariant());
    }

    async Task PollProspectJobAsync(ProviderJobRecord job, List<OpenRequest> requests,
        ILookup<string, WoodpeckerProspectStatus> statuses, CancellationToken ct)
    {
        if (requests.Count == 0)
            return;
        var emails = requests.ToDictionary(r => r.Record.RequestId, r => WoodpeckerLeads.ProspectEmailOf(r.Request)!);
        if (job.ExternalId is null && job.SubmitAnswer != WoodpeckerStatus.NotEnqueued)
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
            logger.LogWarning("Reconciled job {JobName}: Woodpecker holds it as batch {ProviderJobId}", job.Name, job.ExternalId);
        }

        var now = time.GetUtcNow();
        var batchSeen = job.ExternalId is not null && statuses.SelectMany(g => g).Any(s => s.Uuid == job.ExternalId);
        foreach (var request in requests)
        {
            using var requestScope = logger.BeginRequestScope(request.Record.RequestId);
            var mine = statuses[emails[request.Record.RequestId]].ToList();
            var status = mine.FirstOrDefault(s => s.Uuid == job.ExternalId) ?? mine.FirstOrDefault(s => s.Uuid == request.State.Batch);
            if (status is null)
            {
                if (job.ExternalId is not null && !batchSeen)
                    continue; // the batch is not visible yet
                // Left out of the batch, or not queued at all: the newest other batch holding the prospect is followed.
                var submitted = SubmittedAt(job);
                var held = mine.Where(s => s.Uuid != job.ExternalId && (s.Created is null || s.Created >= submitted - Options.PendingLookBack))
                    .OrderByDescending(s => s.Created ?? DateTimeOffset.MaxValue).FirstOrDefault();
                if (held is null)
                {
                    if (WoodpeckerStatus.LeftOutForCredits(job.SubmitAnswer))
                        Complete(request, WoodpeckerOutcomes.LeftOutForCredits(job.SubmitAnswer));
                    else if (now - submitted >= Options.ReconcileAfter)
                        Complete(request, WoodpeckerOutcomes.PendingBatchNotFound(job.SubmitAnswer, job.ExternalId, Options.PendingLookBack, Options.ReconcileAfter));
                    continue;
                }
                request.State = request.State with { Batch = held.Uuid, BatchCreated = held.Created };
                request.State.WriteTo(request.Record);
                logger.LogInformation("Woodpecker did not queue prospect {RequestId} with its submit ({SubmitAnswer}); batch {Batch} already holds it and is followed",
                    request.Record.RequestId, job.SubmitAnswer, held.Uuid);
                status = held;
            }
            if (status.Uuid != job.ExternalId)
                request.Followed = await FollowedAsync(request, ct);

            if (status.Status == WoodpeckerStatus.ProcessedEnriched)
                await CompleteEnrichedProspectAsync(request, emails[request.Record.RequestId], now, ct);
            else if (status.Status == WoodpeckerStatus.ProcessedNotEnriched)
                Complete(request, WoodpeckerOutcomes.ProspectNotEnriched(request.Followed));
            else if (status.Status?.StartsWith(WoodpeckerStatus.Processed, StringComparison.Ordinal) == true)
                Complete(request, WoodpeckerOutcomes.ProspectUnknownStatus(status.Status, request.Followed));
            // PENDING, or a status that does not say it is processed: look again next tick.
        }
    }

    /// <summary>Found is what the prospect record holds after enrichment, read from it; never the caller's input echoed back.</summary>
    async Task CompleteEnrichedProspectAsync(OpenRequest request, string email, DateTimeOffset now, CancellationToken ct)
    {
        var record = (await client.SearchProspectsAsync(new Dictionary<string, string> { ["email"] = email }, ct))
            .FirstOrDefault(p => string.Equals(p.Email?.Trim(), email, StringComparison.OrdinalIgnoreCase));
        if (record?.Email is { Length: > 0 } held)
        {
            Complete(request, WoodpeckerOutcomes.ProspectEnriched(held.Trim(), request.Followed));
            return;
        }
        if (request.State.FoundAt is null)
        {
            request.State = request.State with { FoundAt = now };
            request.State.WriteTo(request.Record);
        }
        if (now - request.State.FoundAt >= Options.ProspectMatchTimeout)
            Complete(request, WoodpeckerOutcomes.ProspectUnreadable(Options.ProspectMatchTimeout, request.Followed));
        else
            logger.LogInformation("Prospect {RequestId} was enriched but its record cannot be read yet", request.Record.RequestId);
    }

    /// <summary>Where a followed request's result comes from, and whether this relay submitted that batch (so counts its charge) itself.</summary>
    async Task<WoodpeckerOutcomes.Followed?> FollowedAsync(OpenRequest request, CancellationToken ct)
    {
        if (request.State.Batch is not { } batch)
            return null;
        if (!submittedHere.TryGetValue(batch, out var ours))
            submittedHere[batch] = ours = await db.ProviderJobs.AnyAsync(j => j.Provider == ProviderName.Woodpecker && j.ExternalId == batch, ct);
        return new WoodpeckerOutcomes.Followed(batch, request.Job.SubmitAnswer, ours);
    }

    void Complete(OpenRequest request, LeadResult result) =>
        completion.Complete(request.Record, WoodpeckerLeads.ForRequest(request.Request, result).ToCompletion());

    static string Uid(OpenRequest request) => WoodpeckerLeads.UidOf(request.Request)!;

    /// <summary>An open request of this poll: its row, its body, and what is tracked for it between polls.</summary>
    sealed class OpenRequest(ProviderJobRecord job, EnrichmentRequestRecord record)
    {
        public ProviderJobRecord Job => job;
        public EnrichmentRequestRecord Record => record;
        public EnrichmentRequested Request { get; } = LedgerViews.ReadRequest(record);
        public WoodpeckerRequestState State { get; set; } = WoodpeckerRequestState.Read(record);
        public WoodpeckerOutcomes.Followed? Followed { get; set; }
    }

    /// <summary>One answer of the list endpoint, by batch uuid and by the uids the batches hold.</summary>
    sealed class BatchListing(DateOnly createdAfter, IReadOnlyList<WoodpeckerBatch> batches)
    {
        public static readonly BatchListing Empty = new(DateOnly.MaxValue, []);

        readonly Dictionary<string, WoodpeckerBatch> byUuid = batches.GroupBy(b => b.Uuid).ToDictionary(g => g.Key, g => g.First());
        readonly ILookup<string, WoodpeckerBatch> byUid = batches.SelectMany(b => b.Leads.Select(l => (l.Uid, Batch: b))).ToLookup(x => x.Uid, x => x.Batch);

        public DateOnly CreatedAfter => createdAfter;
        public IReadOnlyList<WoodpeckerBatch> Batches => batches;
        public WoodpeckerBatch? Find(string uuid) => byUuid.GetValueOrDefault(uuid);
        public IEnumerable<WoodpeckerBatch> Holding(string uid) => byUid[uid];
    }
}
