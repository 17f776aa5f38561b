using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// The job engine's reader for Woodpecker: lead batches through the list endpoint (with a created_after that reaches
/// past its 24-hour default), prospect batches through the status query, the email read from the prospect record, leads
/// Woodpecker did not queue again followed to the batch that already held them, and the deadline's last word. What each
/// answer means is in <see cref="WoodpeckerOutcomes"/>. A read that serves several jobs (the list, a status query, a page
/// of prospects) and fails is an error of each job that needed it; every other job of the poll is read on.
/// </summary>
public sealed class WoodpeckerJobReader(
    WoodpeckerClient client,
    IJobDirectory directory,
    IOptions<WoodpeckerOptions> options,
    TimeProvider time,
    ILogger<WoodpeckerJobReader> logger) : IJobReader
{
    const int ProspectPageSize = 1000;
    const int MaxProspectPages = 10;
    /// <summary>Prospect searches one poll makes for converted leads the recent pages did not show; the rest wait a tick.</summary>
    const int MaxSearchesPerPoll = 100;
    /// <summary>Emails asked about in one status query.</summary>
    const int MaxEmailsPerStatusQuery = 100;
    /// <summary>How much older than its job a batch may look and still be the job's lost submit (clocks differ).</summary>
    static readonly TimeSpan ClockSlack = TimeSpan.FromMinutes(5);

    WoodpeckerOptions Options => options.Value;

    public ProviderName Provider => ProviderName.Woodpecker;

    public PollPolicy Policy => new(
        Schedule: RelayMetrics.Tag(ProviderName.Woodpecker),
        Interval: Options.PollInterval,
        FirstReadAfter: TimeSpan.Zero,
        Deadline: Options.Deadline,
        RequestTimeout: Options.RequestTimeout,
        ReconcileAfter: Options.ReconcileAfter,
        // The documented listings (batches created since a day; statuses by email) show every batch holding the leads:
        // a lost submit they do not show once ReconcileAfter has passed never arrived, so its leads go again.
        Unfound: UnfoundSubmits.Resend,
        NextReadIn: NextReadIn);

    public Task<IReadOnlyList<JobReading>> ReadAsync(IReadOnlyList<OpenJob> jobs, CancellationToken ct) =>
        new Poll(client, directory, Options, time.GetUtcNow(), logger, jobs).ReadAsync(ct);

    /// <summary>Young batches every tick; older ones less often, never slower than MaxPollInterval.</summary>
    internal TimeSpan NextReadIn(TimeSpan age)
    {
        var factor = age < TimeSpan.FromMinutes(10) ? 1 : age < TimeSpan.FromHours(1) ? 2 : age < TimeSpan.FromHours(6) ? 4 : 8;
        var gap = Options.PollInterval * factor;
        // Slightly under a whole number of ticks, so a job is due again on the tick it was meant for.
        gap -= TimeSpan.FromTicks(Options.PollInterval.Ticks / 10);
        return gap < Options.MaxPollInterval ? gap : Options.MaxPollInterval;
    }

    /// <summary>
    /// The list's <c>created_after</c> is a day, and the pages do not say whether that day is included nor in which
    /// time zone it is read: two days before the instant covers every reading.
    /// </summary>
    internal static DateOnly CreatedAfter(DateTimeOffset since) => DateOnly.FromDateTime(since.UtcDateTime).AddDays(-2);

    /// <summary>One poll's reading: what it learnt per job, and the reads its jobs share.</summary>
    sealed class Poll(WoodpeckerClient client, IJobDirectory directory, WoodpeckerOptions options, DateTimeOffset now, ILogger logger,
        IReadOnlyList<OpenJob> open)
    {
        readonly List<JobRead> jobs = open.Select(j => new JobRead(j)).ToList();
        // Converted leads, matched to their prospects in bulk once every batch was read; leads that neither their job's
        // batch nor a followed one holds; batches read by uuid; which batches this relay submitted itself; searches made.
        readonly List<LeadRead> converted = [];
        readonly List<LeadRead> unplaced = [];
        readonly Dictionary<string, Task<WoodpeckerBatch?>> readByUuid = [];
        readonly Dictionary<string, Task<bool>> submittedHere = [];
        readonly Dictionary<string, Task<IReadOnlyList<WoodpeckerProspect>>> searched = [];

        public async Task<IReadOnlyList<JobReading>> ReadAsync(CancellationToken ct)
        {
            foreach (var job in jobs.Where(j => j.Job.PastDeadline))
                await EachAsync(job, () => AtDeadlineAsync(job, ct), ct);

            var due = jobs.Where(j => !j.Job.PastDeadline && j.Leads.Count > 0).ToList();
            var leadJobs = due.Where(j => j.Job.Lane == WoodpeckerLeads.LeadsLane).ToList();
            if (leadJobs.Count > 0 && await SharedAsync(leadJobs, () => ListAsync(ListSince(leadJobs), ct), ct) is { } listing)
            {
                foreach (var job in leadJobs)
                    await EachAsync(job, () => ReadLeadJobAsync(job, listing, ct), ct);
                await PlaceLeftOutLeadsAsync(listing, ct);
            }
            foreach (var group in StatusQueries(due.Where(j => j.Job.Lane == WoodpeckerLeads.ProspectsLane)))
                await ReadProspectJobsAsync(group, ct);
            await CompleteConvertedAsync(ct);
            return jobs.Select(j => j.Reading()).ToList();
        }

        /// <summary>One job's part of the poll: a failure is this job's error, and its calls are its answers.</summary>
        async Task EachAsync(JobRead job, Func<Task> read, CancellationToken ct)
        {
            if (job.Error is not null)
                return;
            using var answers = ProviderAnswers.ForJob(job.Id);
            using var jobScope = logger.BeginJobScope(ProviderName.Woodpecker, job.Job.Name, job.ExternalId);
            try
            {
                await read();
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                job.Fail(ex);
            }
        }

        /// <summary>A read several jobs need: when it fails, each of them has that error, and null comes back.</summary>
        static async Task<T?> SharedAsync<T>(IEnumerable<JobRead> needing, Func<Task<T>> read, CancellationToken ct) where T : class
        {
            try
            {
                return await read();
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                foreach (var job in needing)
                    job.Fail(ex);
                return null;
            }
        }

        async Task AtDeadlineAsync(JobRead job, CancellationToken ct)
        {
            foreach (var lead in job.Leads)
                Complete(lead, WoodpeckerOutcomes.AtDeadline(lead.State, job.Job.Lane, options.Deadline, await FollowedAsync(lead, ct)));
        }

        // ---- lead enrichment ----

        /// <summary>
        /// The oldest batch this poll must see: each lead job's, each followed batch's, and for a NOT_ENQUEUED submit the
        /// look-back before it (the batch already holding its leads may be older than the submit).
        /// </summary>
        DateTimeOffset ListSince(List<JobRead> leadJobs)
        {
            var since = leadJobs.Min(j => j.Job.CreatedAt);
            foreach (var job in leadJobs)
            {
                foreach (var lead in job.Leads)
                {
                    if (lead.State.BatchCreated is { } created && created < since)
                        since = created;
                    else if (lead.State.Batch is null && job.Job.SubmitAnswer == WoodpeckerStatus.NotEnqueued && job.SubmittedAt - options.PendingLookBack < since)
                        since = job.SubmittedAt - options.PendingLookBack;
                }
            }
            return since;
        }

        async Task<BatchListing> ListAsync(DateTimeOffset since, CancellationToken ct)
        {
            var createdAfter = CreatedAfter(since);
            return new BatchListing(createdAfter, await client.ListLeadEnrichmentsAsync(createdAfter, ct));
        }

        async Task ReadLeadJobAsync(JobRead job, BatchListing listing, CancellationToken ct)
        {
            if (job.ExternalId is null && job.Job.SubmitAnswer != WoodpeckerStatus.NotEnqueued && !Adopt(job, listing.Batches))
            {
                job.NotFound = true;
                return;
            }
            WoodpeckerBatch? own = null;
            if (job.ExternalId is { } uuid && (own = await BatchAsync(uuid, listing, ct)) is null)
                return; // not visible yet; the next read asks again

            foreach (var lead in job.Leads)
            {
                if (own?.Leads.FirstOrDefault(l => l.Uid == lead.Uid) is { } mine)
                    Apply(lead, mine);
                else if (lead.State.Batch is { } followed)
                {
                    // Not visible at this moment: the next read asks again, and the deadline bounds how long.
                    if ((await BatchAsync(followed, listing, ct))?.Leads.FirstOrDefault(l => l.Uid == lead.Uid) is { } held)
                    {
                        lead.Followed = await FollowedAsync(lead, ct);
                        Apply(lead, held);
                    }
                }
                else
                    unplaced.Add(lead);
            }
        }

        /// <summary>
        /// A submit whose answer was lost: look for a batch created since that holds our uids (Woodpecker has no
        /// idempotency key, so this is how we learn whether the POST took effect).
        /// </summary>
        bool Adopt(JobRead job, IEnumerable<WoodpeckerBatch> batches)
        {
            var wanted = job.Leads.Select(l => l.Uid).ToHashSet();
            var found = batches
                .Where(b => b.Created is null || b.Created >= job.Job.CreatedAt - ClockSlack)
                .Select(b => (Batch: b, Shared: b.Leads.Count(l => wanted.Contains(l.Uid))))
                .Where(x => x.Shared > 0)
                .OrderByDescending(x => x.Shared)
                .FirstOrDefault();
            if (found.Batch is null)
                return false;
            Found(job, found.Batch.Uuid);
            return true;
        }

        void Found(JobRead job, string uuid)
        {
            job.ExternalId = job.FoundAs = uuid;
            logger.LogInformation("The lost submit of job {JobName} took effect: Woodpecker holds it as batch {ProviderJobId}", job.Job.Name, uuid);
        }

        /// <summary>What a processed lead means; a pending one (or a status the relay does not know) is looked at again next read.</summary>
        void Apply(LeadRead lead, WoodpeckerBatchLead read)
        {
            if (read.Status != WoodpeckerStatus.Processed)
                return;
            if (WoodpeckerOutcomes.OfProcessedLead(read.ProcessingResult, lead.Followed) is { } result)
                Complete(lead, result);
            else
                converted.Add(lead); // the email lives on the prospect the conversion created: found in bulk once every batch was read
        }

        /// <summary>A batch from the listing, else read by its uuid (once per poll); null while Woodpecker does not show it.</summary>
        Task<WoodpeckerBatch?> BatchAsync(string uuid, BatchListing listing, CancellationToken ct)
        {
            if (listing.Find(uuid) is { } listed)
                return Task.FromResult<WoodpeckerBatch?>(listed);
            if (!readByUuid.TryGetValue(uuid, out var batch))
                readByUuid[uuid] = batch = client.GetLeadEnrichmentAsync(uuid, ct);
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
            var leads = unplaced.Where(l => l.Job.Error is null).ToList();
            unplaced.Clear();
            if (leads.Count == 0)
                return;
            var createdAfter = CreatedAfter(leads.Min(l => l.Job.SubmittedAt) - options.PendingLookBack);
            if (createdAfter < listing.CreatedAfter
                && await SharedAsync(leads.Select(l => l.Job).Distinct(),
                    async () => new BatchListing(createdAfter, await client.ListLeadEnrichmentsAsync(createdAfter, ct)), ct) is { } longer)
                listing = longer;

            foreach (var lead in leads)
                await EachAsync(lead.Job, async () =>
                {
                    var job = lead.Job;
                    using var requestScope = logger.BeginRequestScope(lead.RequestId);
                    var submitted = job.SubmittedAt;
                    var holder = listing.Holding(lead.Uid)
                        .Where(b => b.Uuid != job.ExternalId && (b.Created is null || b.Created >= submitted - options.PendingLookBack))
                        .OrderByDescending(b => b.Created ?? DateTimeOffset.MaxValue)
                        .FirstOrDefault();
                    if (holder is not null)
                    {
                        lead.State = lead.State with { Batch = holder.Uuid, BatchCreated = holder.Created };
                        lead.Followed = await FollowedAsync(lead, ct);
                        logger.LogInformation("Woodpecker did not queue lead {RequestId} with its submit ({SubmitAnswer}); batch {Batch} already holds it and is followed",
                            lead.RequestId, job.Job.SubmitAnswer, holder.Uuid);
                        Apply(lead, holder.Leads.First(l => l.Uid == lead.Uid));
                    }
                    else if (WoodpeckerStatus.LeftOutForCredits(job.Job.SubmitAnswer))
                        Complete(lead, WoodpeckerOutcomes.LeftOutForCredits(job.Job.SubmitAnswer));
                    else if (now - submitted >= options.ReconcileAfter)
                    {
                        logger.LogWarning("No Woodpecker batch holds lead {RequestId}, which its submit did not queue ({SubmitAnswer}); completing it failed",
                            lead.RequestId, job.Job.SubmitAnswer);
                        Complete(lead, WoodpeckerOutcomes.PendingBatchNotFound(job.Job.SubmitAnswer, job.ExternalId, options.PendingLookBack,
                            options.ReconcileAfter));
                    }
                }, ct);
        }

        /// <summary>
        /// Converted leads of this poll, matched to their prospects. One read of the most recently updated prospects
        /// serves them all (a search per lead would cost a request each); the vendor documents <c>sort</c> but not that
        /// <c>updated</c> may be sorted on, so a lead those pages do not show is searched for by name with company or
        /// website. A prospect not found yet is looked for again next read, for <see cref="WoodpeckerOptions.ProspectMatchTimeout"/>.
        /// </summary>
        async Task CompleteConvertedAsync(CancellationToken ct)
        {
            var leads = converted.Where(l => l.Job.Error is null).ToList();
            converted.Clear();
            if (leads.Count == 0)
                return;
            foreach (var lead in leads.Where(l => l.State.FoundAt is null))
                lead.State = lead.State with { FoundAt = now };

            if (await SharedAsync(leads.Select(l => l.Job).Distinct(),
                    () => RecentProspectsAsync(leads.Min(l => l.State.BatchCreated ?? l.Job.Job.CreatedAt), ct), ct) is not { } recent)
                return;
            var unmatched = new List<(LeadRead Lead, ConvertedLead Person)>();
            foreach (var lead in leads)
            {
                var person = ConvertedLead.Of(lead.Request);
                if (person.Converted(recent, lead.Followed) is { } result)
                    Complete(lead, result);
                else
                    unmatched.Add((lead, person));
            }

            foreach (var (lead, person) in unmatched.OrderBy(u => u.Lead.State.FoundAt))
                await EachAsync(lead.Job, async () =>
                {
                    using var requestScope = logger.BeginRequestScope(lead.RequestId);
                    if (person.SearchCriteria() is { } criteria)
                    {
                        var key = string.Join('\n', criteria.Select(c => $"{c.Key}={c.Value}"));
                        if (!searched.TryGetValue(key, out var search) && searched.Count < MaxSearchesPerPoll)
                            searched[key] = search = client.SearchProspectsAsync(criteria, ct);
                        if (search is not null && person.Converted(await search, lead.Followed) is { } result)
                        {
                            Complete(lead, result);
                            return;
                        }
                    }
                    if (now - lead.State.FoundAt >= options.ProspectMatchTimeout)
                    {
                        logger.LogWarning("Lead {RequestId} converted, but its prospect was not matched within {Timeout}; completing it failed",
                            lead.RequestId, options.ProspectMatchTimeout);
                        Complete(lead, WoodpeckerOutcomes.ConvertedUnmatched(options.ProspectMatchTimeout, lead.Followed));
                    }
                    else
                        logger.LogInformation("Lead {RequestId} converted but its prospect is not visible yet", lead.RequestId);
                }, ct);
        }

        /// <summary>
        /// Prospects asked for most recently updated first, page by page back to <paramref name="since"/> (a conversion
        /// cannot predate its batch). A page that is not in that order shows the sort is not honoured: paging stops there.
        /// </summary>
        async Task<List<WoodpeckerProspect>> RecentProspectsAsync(DateTimeOffset since, CancellationToken ct)
        {
            var horizon = since - ClockSlack;
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

        // ---- prospect enrichment ----

        /// <summary>
        /// The prospect jobs grouped for the status query: whole jobs, as many as one query's emails allow, so that a
        /// query Woodpecker refuses concerns only the jobs in it.
        /// </summary>
        static IEnumerable<List<JobRead>> StatusQueries(IEnumerable<JobRead> prospectJobs)
        {
            var group = new List<JobRead>();
            var emails = new HashSet<string>();
            foreach (var job in prospectJobs)
            {
                var mine = job.Leads.Select(l => l.ProspectEmail).ToList();
                if (group.Count > 0 && emails.Union(mine).Count() > MaxEmailsPerStatusQuery)
                {
                    yield return group;
                    group = [];
                    emails.Clear();
                }
                group.Add(job);
                emails.UnionWith(mine);
            }
            if (group.Count > 0)
                yield return group;
        }

        /// <summary>
        /// One status query for a group of prospect jobs, then each job read from its answer. A query Woodpecker refuses
        /// for something in it is asked again job by job, so that only the job it concerns fails; any other failure of
        /// the query is an error of every job in it.
        /// </summary>
        async Task ReadProspectJobsAsync(List<JobRead> group, CancellationToken ct)
        {
            var emails = group.SelectMany(j => j.Leads).Select(l => l.ProspectEmail).Distinct().ToList();
            ILookup<string, WoodpeckerProspectStatus> statuses;
            try
            {
                using var answers = group.Count == 1 ? ProviderAnswers.ForJob(group[0].Id) : null;
                var read = new List<WoodpeckerProspectStatus>();
                foreach (var chunk in emails.Chunk(MaxEmailsPerStatusQuery))
                    read.AddRange(await client.QueryProspectStatusesAsync(chunk, ct));
                statuses = read.ToLookup(s => s.Email.Trim().ToLowerInvariant());
            }
            catch (WoodpeckerErrorException ex) when (ex.RefusesTheQuestion && group.Count > 1 && !ct.IsCancellationRequested)
            {
                logger.LogWarning("Woodpecker refused the status query of {Count} prospect jobs ({Error}); asking job by job", group.Count, ex.Error);
                foreach (var job in group)
                    await ReadProspectJobsAsync([job], ct);
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                foreach (var job in group)
                    job.Fail(ex);
                return;
            }
            foreach (var job in group)
                await EachAsync(job, () => ReadProspectJobAsync(job, statuses, ct), ct);
        }

        async Task ReadProspectJobAsync(JobRead job, ILookup<string, WoodpeckerProspectStatus> statuses, CancellationToken ct)
        {
            if (job.ExternalId is null && job.Job.SubmitAnswer != WoodpeckerStatus.NotEnqueued)
            {
                var since = job.Job.CreatedAt - ClockSlack;
                var match = job.Leads.SelectMany(l => statuses[l.ProspectEmail]).FirstOrDefault(s => s.Created is null || s.Created >= since);
                if (match is null)
                {
                    job.NotFound = true;
                    return;
                }
                Found(job, match.Uuid);
            }

            var batchSeen = job.ExternalId is not null && statuses.SelectMany(g => g).Any(s => s.Uuid == job.ExternalId);
            foreach (var lead in job.Leads)
            {
                using var requestScope = logger.BeginRequestScope(lead.RequestId);
                var mine = statuses[lead.ProspectEmail].ToList();
                var status = mine.FirstOrDefault(s => s.Uuid == job.ExternalId) ?? mine.FirstOrDefault(s => s.Uuid == lead.State.Batch);
                if (status is null)
                {
                    if (job.ExternalId is not null && !batchSeen)
                        continue; // the batch is not visible yet
                    // Left out of the batch, or not queued at all: the newest other batch holding the prospect is followed.
                    var submitted = job.SubmittedAt;
                    var held = mine.Where(s => s.Uuid != job.ExternalId && (s.Created is null || s.Created >= submitted - options.PendingLookBack))
                        .OrderByDescending(s => s.Created ?? DateTimeOffset.MaxValue).FirstOrDefault();
                    if (held is null)
                    {
                        if (WoodpeckerStatus.LeftOutForCredits(job.Job.SubmitAnswer))
                            Complete(lead, WoodpeckerOutcomes.LeftOutForCredits(job.Job.SubmitAnswer));
                        else if (now - submitted >= options.ReconcileAfter)
                            Complete(lead, WoodpeckerOutcomes.PendingBatchNotFound(job.Job.SubmitAnswer, job.ExternalId, options.PendingLookBack,
                                options.ReconcileAfter));
                        continue;
                    }
                    lead.State = lead.State with { Batch = held.Uuid, BatchCreated = held.Created };
                    logger.LogInformation("Woodpecker did not queue prospect {RequestId} with its submit ({SubmitAnswer}); batch {Batch} already holds it and is followed",
                        lead.RequestId, job.Job.SubmitAnswer, held.Uuid);
                    status = held;
                }
                if (status.Uuid != job.ExternalId)
                    lead.Followed = await FollowedAsync(lead, ct);

                if (status.Status == WoodpeckerStatus.ProcessedEnriched)
                    await CompleteEnrichedProspectAsync(lead, ct);
                else if (WoodpeckerOutcomes.OfProspectStatus(status.Status, lead.Followed) is { } result)
                    Complete(lead, result);
                // PENDING, or a status that does not say it is processed: look again next read.
            }
        }

        /// <summary>Found is what the prospect record holds after enrichment, read from it; never the caller's input echoed back.</summary>
        async Task CompleteEnrichedProspectAsync(LeadRead lead, CancellationToken ct)
        {
            var email = lead.ProspectEmail;
            if (WoodpeckerOutcomes.EnrichedRecord(email, await client.SearchProspectsAsync(new Dictionary<string, string> { ["email"] = email }, ct), lead.Followed)
                is { } result)
            {
                Complete(lead, result);
                return;
            }
            if (lead.State.FoundAt is null)
                lead.State = lead.State with { FoundAt = now };
            if (now - lead.State.FoundAt >= options.ProspectMatchTimeout)
                Complete(lead, WoodpeckerOutcomes.ProspectUnreadable(options.ProspectMatchTimeout, lead.Followed));
            else
                logger.LogInformation("Prospect {RequestId} was enriched but its record cannot be read yet", lead.RequestId);
        }

        // ---- shared ----

        /// <summary>Where a followed lead's result comes from, and whether this relay submitted that batch (so counts its charge) itself.</summary>
        async Task<WoodpeckerOutcomes.Followed?> FollowedAsync(LeadRead lead, CancellationToken ct)
        {
            if (lead.State.Batch is not { } batch)
                return null;
            if (!submittedHere.TryGetValue(batch, out var ours))
                submittedHere[batch] = ours = directory.HoldsAsync(ProviderName.Woodpecker, batch, ct);
            return new WoodpeckerOutcomes.Followed(batch, lead.Job.Job.SubmitAnswer, await ours);
        }

        static void Complete(LeadRead lead, LeadResult result) =>
            lead.Job.Completed[lead.RequestId] = WoodpeckerLeads.ForRequest(lead.Request, result);
    }

    /// <summary>What one poll learnt of a job.</summary>
    sealed class JobRead
    {
        public JobRead(OpenJob job)
        {
            Job = job;
            ExternalId = job.ExternalId;
            Leads = job.Leads.Where(l => !l.Ended).Select(l => new LeadRead(this, l)).ToList();
        }

        public OpenJob Job { get; }
        public Guid Id => Job.Id;
        public IReadOnlyList<LeadRead> Leads { get; }
        /// <summary>The batch: Woodpecker's answer to the submit, or the batch a lost submit was found as.</summary>
        public string? ExternalId { get; set; }
        public string? FoundAs { get; set; }
        public bool NotFound { get; set; }
        public string? Error { get; private set; }
        public Dictionary<Guid, LeadResult> Completed { get; } = [];
        public DateTimeOffset SubmittedAt => Job.SubmittedAt ?? Job.CreatedAt;

        /// <summary>The first failure stands: nothing else of this job is read, nor applied.</summary>
        public void Fail(Exception ex) => Error ??= $"{ex.GetType().Name}: {ex.Message}";

        public JobReading Reading() => Error is { } error
            ? new JobReading(Id) { Error = error }
            : new JobReading(Id)
            {
                FoundAs = FoundAs,
                NotFound = NotFound,
                Completed = Completed,
                ProviderStates = Leads.Select(l => (l.RequestId, State: l.State.ChangedFrom(l.Lead.ProviderState)))
                    .Where(s => s.State is not null).ToDictionary(s => s.RequestId, s => s.State!),
            };
    }

    /// <summary>An open lead of a job in this poll: what is tracked for it between reads, and where its result came from.</summary>
    sealed class LeadRead(JobRead job, OpenLead lead)
    {
        public JobRead Job => job;
        public OpenLead Lead => lead;
        public Guid RequestId => lead.RequestId;
        public EnrichmentRequested Request => lead.Request;
        public string Uid => WoodpeckerLeads.UidOf(lead.Request)!;
        public string ProspectEmail => WoodpeckerLeads.ProspectEmailOf(lead.Request)!;
        public WoodpeckerRequestState State { get; set; } = WoodpeckerRequestState.Read(lead.ProviderState);
        public WoodpeckerOutcomes.Followed? Followed { get; set; }
    }

    /// <summary>One answer of the list endpoint, by batch uuid and by the uids the batches hold.</summary>
    sealed class BatchListing(DateOnly createdAfter, IReadOnlyList<WoodpeckerBatch> batches)
    {
        readonly Dictionary<string, WoodpeckerBatch> byUuid = batches.GroupBy(b => b.Uuid).ToDictionary(g => g.Key, g => g.First());
        readonly ILookup<string, WoodpeckerBatch> byUid = batches.SelectMany(b => b.Leads.Select(l => (l.Uid, Batch: b))).ToLookup(x => x.Uid, x => x.Batch);

        public DateOnly CreatedAfter => createdAfter;
        public IReadOnlyList<WoodpeckerBatch> Batches => batches;
        public WoodpeckerBatch? Find(string uuid) => byUuid.GetValueOrDefault(uuid);
        public IEnumerable<WoodpeckerBatch> Holding(string uid) => byUid[uid];
    }
}
