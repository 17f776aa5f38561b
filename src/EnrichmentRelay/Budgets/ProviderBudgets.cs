using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Budgets;

/// <summary>A provider's limits as they apply now: an operator's (from the ledger) or the settings'.</summary>
public sealed record BudgetLimits(decimal? DailyCap, decimal? PerRequestCeiling, bool SetByOperator);

/// <summary>
/// A flush's look at its waiting requests against the budget: the oldest that fit what is left of today's cap (and
/// their worst case, to reserve), those whose worst case alone is over the per-request ceiling, and those that do not
/// fit now. <see cref="RoomMayReturn"/>: some of today's credits are reserved by jobs not yet settled, which may free room.
/// </summary>
public sealed record BudgetCut(
    IReadOnlyList<EnrichmentRequestRecord> Fits,
    decimal Reserve,
    IReadOnlyList<EnrichmentRequestRecord> OverCeiling,
    IReadOnlyList<EnrichmentRequestRecord> DoNotFit,
    bool RoomMayReturn);

/// <summary>One provider's budget today, as the admin route and the gauges show it.</summary>
public sealed record BudgetStatus(
    ProviderName Provider,
    DateOnly Day,
    decimal? DailyCap,
    decimal? PerRequestCeiling,
    string Source,
    decimal Reserved,
    decimal Charged,
    decimal? Remaining);

/// <summary>The settings of each provider's budget, by provider.</summary>
public sealed class BudgetSettings(
    IOptions<BudgetsOptions> budgets,
    IOptions<PreceptBudgetOptions> precept,
    IOptions<WoodpeckerBudgetOptions> woodpecker,
    IOptions<LanceBudgetOptions> lance)
{
    public BudgetsOptions Budgets => budgets.Value;

    public IReadOnlyList<ProviderBudgetOptions> All => [precept.Value, woodpecker.Value, lance.Value];

    public ProviderBudgetOptions For(ProviderName provider) => provider switch
    {
        ProviderName.Precept => precept.Value,
        ProviderName.Woodpecker => woodpecker.Value,
        ProviderName.Lance => lance.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "No budget for this provider."),
    };

    /// <summary>The worst case of one stored request at <paramref name="provider"/>'s prices, for the fields its next attempt asks (a waterfall asks only for those still missing).</summary>
    public decimal WorstCase(ProviderName provider, EnrichmentRequestRecord request) =>
        For(provider).WorstCase(LedgerViews.AskedOf(request).Fields);
}

/// <summary>
/// Budgets in the ledger, so every instance sees one: each provider's spend per UTC day (reserved + charged), reserved
/// before a submit by a conditional update that no two instances can both pass for the last credits, and settled from
/// what the provider reported once the job ends.
/// </summary>
public sealed class ProviderBudgets(RelayDbContext db, BudgetSettings settings, TimeProvider time)
{
    /// <summary>The detail of a request completed <c>insufficientCredits</c> because the budget would not pay for it.</summary>
    public const string Detail = "budget";

    public DateOnly Today => DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);

    /// <summary>When today's budget period ends (UTC midnight).</summary>
    public DateTimeOffset NextPeriod => new(Today.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    public async Task<BudgetLimits> LimitsAsync(ProviderName provider, CancellationToken ct)
    {
        var set = await db.BudgetLimits.AsNoTracking().FirstOrDefaultAsync(l => l.Provider == provider, ct);
        if (set is not null)
            return new BudgetLimits(set.DailyCap, set.PerRequestCeiling, SetByOperator: true);
        var configured = settings.For(provider);
        return new BudgetLimits(configured.DailyCap, configured.PerRequestCeiling, SetByOperator: false);
    }

    /// <summary>Splits <paramref name="waiting"/> (oldest first) by what today's budget allows; the oldest that fit go, in order.</summary>
    public async Task<BudgetCut> CutAsync(ProviderName provider, IReadOnlyList<EnrichmentRequestRecord> waiting, CancellationToken ct)
    {
        var limits = await LimitsAsync(provider, ct);
        var today = await DayAsync(provider, Today, ct);
        var room = limits.DailyCap - today.Reserved - today.Charged;
        List<EnrichmentRequestRecord> fits = [], overCeiling = [], doNotFit = [];
        var reserve = 0m;
        foreach (var request in waiting)
        {
            var worst = settings.WorstCase(provider, request);
            if (worst > limits.PerRequestCeiling)
                overCeiling.Add(request);
            // Once one does not fit, the younger ones wait behind it: a stream of cheap requests never starves a dear one.
            else if (doNotFit.Count == 0 && (room is null || reserve + worst <= room))
            {
                fits.Add(request);
                reserve += worst;
            }
            else
                doNotFit.Add(request);
        }
        return new BudgetCut(fits, reserve, overCeiling, doNotFit, RoomMayReturn: today.Reserved > 0);
    }

    /// <summary>
    /// Reserves <paramref name="credits"/> for <paramref name="job"/> from today's budget of its provider, in the caller's
    /// transaction (the submit's intent): false, with nothing reserved, when they no longer fit the cap (another instance
    /// reserved first). On PostgreSQL the day's row stays locked until the caller's transaction ends, so a second
    /// instance's reservation is decided on what this one left.
    /// </summary>
    public async Task<bool> ReserveAsync(ProviderJobRecord job, decimal credits, CancellationToken ct)
    {
        var provider = job.Provider;
        var day = Today;
        var cap = (await LimitsAsync(provider, ct)).DailyCap;
        await EnsureDayAsync(provider, day, ct);
        var row = db.BudgetDays.Where(b => b.Provider == provider && b.Day == day);
        if (cap is { } limit)
            row = row.Where(b => b.Reserved + b.Charged + credits <= limit);
        var reserved = await row.ExecuteUpdateAsync(set => set.SetProperty(b => b.Reserved, b => b.Reserved + credits), ct);
        if (reserved == 0)
            return false;
        job.CreditsReserved = credits;
        job.BudgetDay = day;
        job.ReservationOpen = true;
        return true;
    }

    /// <summary>
    /// Replaces an ended job's reservation by what it cost, once across instances: the job's charge (Precept's per-job
    /// cost) or its attempts' (per request), else, with nothing reported, nothing (or the worst case where the
    /// provider's budget says it never reports charges). False when the job is not ended or was settled already. A job
    /// cost reported after this is counted by <see cref="SettleLateChargesAsync"/>.
    /// </summary>
    public async Task<bool> SettleAsync(Guid jobId, CancellationToken ct)
    {
        var job = await db.ProviderJobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, ct);
        if (job is not { ReservationOpen: true, CreditsReserved: { } reserved, BudgetDay: { } day }
            || job.State is not (ProviderJobState.Completed or ProviderJobState.Refused))
            return false;
        var charged = job.CreditsCharged ?? await AttemptChargesAsync(job.Id, ct);
        charged ??= settings.For(job.Provider).KeepWorstCaseWhenUnreported && job.SubmittedAt is not null ? reserved : 0m;
        var amount = charged.Value;

        // Its own transaction, unless the caller's is open (then the caller commits).
        await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        var open = db.ProviderJobs.Where(j => j.Id == jobId && j.ReservationOpen);
        // Settled on a job cost seen missing only while it is still missing: one recorded meanwhile is settled next round.
        if (job.CreditsCharged is null)
            open = open.Where(j => j.CreditsCharged == null);
        var claimed = await open.ExecuteUpdateAsync(set => set
            .SetProperty(j => j.ReservationOpen, false)
            .SetProperty(j => j.CreditsSettled, amount), ct);
        if (claimed == 0)
            return false; // another instance settled it first, or its cost arrived meanwhile
        await db.BudgetDays.Where(b => b.Provider == job.Provider && b.Day == day)
            .ExecuteUpdateAsync(set => set
                .SetProperty(b => b.Reserved, b => b.Reserved - reserved)
                .SetProperty(b => b.Charged, b => b.Charged + amount), ct);
        if (transaction is not null)
            await transaction.CommitAsync(ct);
        return true;
    }

    /// <summary>Settles every ended job whose reservation is still open (a job ends on many paths: callbacks, polls, deadlines, sweeps).</summary>
    public async Task<int> SettleEndedAsync(CancellationToken ct)
    {
        var ended = await db.ProviderJobs.AsNoTracking()
            .Where(j => j.ReservationOpen && (j.State == ProviderJobState.Completed || j.State == ProviderJobState.Refused))
            .OrderBy(j => j.CreatedAt).Select(j => j.Id).Take(500).ToListAsync(ct);
        var settled = 0;
        foreach (var id in ended)
            if (await SettleAsync(id, ct))
                settled++;
        return settled;
    }

    /// <summary>
    /// Counts the job costs reported after their job was settled (Precept's <c>cost</c> in a later status read or
    /// callback): the difference between the reported cost and what the settlement counted goes into the charged credits
    /// of the day the job reserved on, once across instances (the job's settled credits move only from the value read).
    /// </summary>
    public async Task<int> SettleLateChargesAsync(CancellationToken ct)
    {
        var late = await db.ProviderJobs.AsNoTracking()
            .Where(j => !j.ReservationOpen && j.BudgetDay != null && j.CreditsSettled != null && j.CreditsCharged != null
                        && j.CreditsCharged != j.CreditsSettled)
            .OrderBy(j => j.CreatedAt).Take(500)
            .Select(j => new { j.Id, j.Provider, Day = j.BudgetDay!.Value, Charged = j.CreditsCharged!.Value, Settled = j.CreditsSettled!.Value })
            .ToListAsync(ct);
        var corrected = 0;
        foreach (var job in late)
        {
            await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
            var claimed = await db.ProviderJobs.Where(j => j.Id == job.Id && j.CreditsSettled == job.Settled)
                .ExecuteUpdateAsync(set => set.SetProperty(j => j.CreditsSettled, job.Charged), ct);
            if (claimed == 0)
                continue; // another instance counted it first
            var difference = job.Charged - job.Settled;
            await db.BudgetDays.Where(b => b.Provider == job.Provider && b.Day == job.Day)
                .ExecuteUpdateAsync(set => set.SetProperty(b => b.Charged, b => b.Charged + difference), ct);
            if (transaction is not null)
                await transaction.CommitAsync(ct);
            corrected++;
        }
        return corrected;
    }

    /// <summary>Each provider's budget today.</summary>
    public async Task<IReadOnlyList<BudgetStatus>> StatusAsync(CancellationToken ct)
    {
        var day = Today;
        var rows = await db.BudgetDays.AsNoTracking().Where(b => b.Day == day).ToDictionaryAsync(b => b.Provider, ct);
        var set = await db.BudgetLimits.AsNoTracking().ToDictionaryAsync(l => l.Provider, ct);
        return settings.All.Select(configured =>
        {
            var limits = set.TryGetValue(configured.Provider, out var l)
                ? new BudgetLimits(l.DailyCap, l.PerRequestCeiling, true)
                : new BudgetLimits(configured.DailyCap, configured.PerRequestCeiling, false);
            var spent = rows.GetValueOrDefault(configured.Provider) ?? new BudgetDayRecord { Provider = configured.Provider, Day = day };
            return new BudgetStatus(configured.Provider, day, limits.DailyCap, limits.PerRequestCeiling, limits.SetByOperator ? "admin" : "settings",
                spent.Reserved, spent.Charged, limits.DailyCap is { } cap ? Math.Max(0, cap - spent.Reserved - spent.Charged) : null);
        }).ToList();
    }

    /// <summary>An operator's limits for <paramref name="provider"/>, replacing the settings' until cleared.</summary>
    public async Task SetAsync(ProviderName provider, decimal? dailyCap, decimal? perRequestCeiling, CancellationToken ct)
    {
        var row = await db.BudgetLimits.FirstOrDefaultAsync(l => l.Provider == provider, ct);
        if (row is null)
            db.BudgetLimits.Add(row = new BudgetLimitRecord { Provider = provider });
        row.DailyCap = dailyCap;
        row.PerRequestCeiling = perRequestCeiling;
        row.UpdatedAt = time.GetUtcNow();
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Back to the settings' limits for <paramref name="provider"/>.</summary>
    public Task ClearAsync(ProviderName provider, CancellationToken ct) =>
        db.BudgetLimits.Where(l => l.Provider == provider).ExecuteDeleteAsync(ct);

    async Task<BudgetDayRecord> DayAsync(ProviderName provider, DateOnly day, CancellationToken ct) =>
        await db.BudgetDays.AsNoTracking().FirstOrDefaultAsync(b => b.Provider == provider && b.Day == day, ct)
        ?? new BudgetDayRecord { Provider = provider, Day = day };

    /// <summary>The day's row, created by whichever instance reserves first (the same statement on SQLite and PostgreSQL).</summary>
    Task EnsureDayAsync(ProviderName provider, DateOnly day, CancellationToken ct) =>
        db.Database.ExecuteSqlAsync($"""
            INSERT INTO budget_days ("Provider", "Day", "Reserved", "Charged") VALUES ({provider.ToString()}, {day}, 0, 0) ON CONFLICT DO NOTHING
            """, ct);

    /// <summary>The sum of what the job's attempts reported, or null when none reported a charge.</summary>
    async Task<decimal?> AttemptChargesAsync(Guid jobId, CancellationToken ct)
    {
        var charges = await db.Attempts.AsNoTracking().Where(a => a.JobId == jobId && a.CreditsCharged != null)
            .Select(a => a.CreditsCharged!.Value).ToListAsync(ct);
        return charges.Count == 0 ? null : charges.Sum();
    }
}
