using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// The queries by which an instance takes work that several instances could take: on PostgreSQL each locks
/// its rows for the caller's transaction with <c>FOR UPDATE SKIP LOCKED</c>, so a second instance passes over
/// them instead of taking (or waiting for) the same rows. SQLite runs one instance only, so the plain query
/// is enough there; optimistic concurrency (the Version columns) stays the last line either way.
/// Call inside a transaction, and keep it short: the locks last until it ends. Do not compose further query
/// operators onto a PostgreSQL claim: EF would wrap the locking SELECT in a subquery.
/// </summary>
public static class RowClaims
{
    /// <summary>
    /// The transaction the claim's locks live in: PostgreSQL only. SQLite needs none (one instance), and its
    /// transactions take the database's single write lock at once, which would stall intake for nothing.
    /// </summary>
    public static async Task<IDbContextTransaction?> BeginAsync(RelayDbContext db, CancellationToken ct) =>
        db.Database.IsNpgsql() ? await db.Database.BeginTransactionAsync(ct) : null;

    /// <summary>The oldest accepted requests of a lane, up to <paramref name="limit"/>.</summary>
    public static IQueryable<EnrichmentRequestRecord> AcceptedRequests(RelayDbContext db, string lane, int limit) =>
        db.Database.IsNpgsql()
            ? db.Requests.FromSql($"""
                SELECT * FROM enrichment_requests WHERE "State" = 'Accepted' AND "Lane" = {lane}
                ORDER BY "AcceptedAt" LIMIT {limit} FOR UPDATE SKIP LOCKED
                """)
            : Accepted(db, lane).Take(limit);

    /// <summary>The accepted requests of a lane, oldest first, unlocked: what <see cref="AcceptedRequests"/> chooses from, in its order.</summary>
    public static IOrderedQueryable<EnrichmentRequestRecord> Accepted(RelayDbContext db, string lane) =>
        db.Requests.Where(r => r.State == RequestState.Accepted && r.Lane == lane).OrderBy(r => r.AcceptedAt);

    /// <summary>
    /// The ids of the oldest outbox rows not yet sent that <paramref name="holder"/> may lease, up to <paramref name="limit"/>,
    /// oldest first: rows never leased, released, leased by <paramref name="holder"/> itself, or whose lease ran out by
    /// <paramref name="now"/>. The caller reads the rows by these ids (<see cref="OutboxRows"/>) and writes its own lease on
    /// them before the transaction ends; the locks last only that long. Ids alone, then the rows by id: chosen and read in
    /// one statement, PostgreSQL sorted thousands of unsent rows with their bodies, or joined the chosen ids to every row of
    /// the table. On PostgreSQL run it under <see cref="QueueReads.InIndexOrderAsync"/>.
    /// On SQLite, which runs one instance, every unsent row: a lease on one was left by an earlier run of the relay.
    /// </summary>
    public static IQueryable<long> UnsentOutboxIds(RelayDbContext db, string holder, DateTimeOffset now, int limit) =>
        db.Database.IsNpgsql()
            ? db.Database.SqlQuery<long>($"""
                SELECT "Id" AS "Value" FROM outbox
                WHERE "SentAt" IS NULL AND ("LeasedUntil" IS NULL OR "LeasedUntil" <= {now} OR "LeasedBy" = {holder})
                ORDER BY "Id" LIMIT {limit} FOR UPDATE SKIP LOCKED
                """)
            : db.Outbox.Where(m => m.SentAt == null).OrderBy(m => m.Id).Take(limit).Select(m => m.Id);

    /// <summary>Outbox rows by id, untracked, as they are now (in no order: sort them in memory).</summary>
    public static IQueryable<OutboxMessage> OutboxRows(RelayDbContext db, IReadOnlyCollection<long> ids) =>
        db.Outbox.Where(m => ids.Contains(m.Id)).AsNoTracking();

    /// <summary>The outbox rows <paramref name="holder"/> may lease, oldest first, unlocked: what <see cref="UnsentOutboxIds"/> chooses from, in its order.</summary>
    public static IOrderedQueryable<OutboxMessage> Unsent(RelayDbContext db, string holder, DateTimeOffset now) =>
        db.Outbox.Where(m => m.SentAt == null && (m.LeasedUntil == null || m.LeasedUntil <= now || m.LeasedBy == holder)).OrderBy(m => m.Id);

    /// <summary>The ids of those of the raw callbacks still to be applied that no other instance is applying.</summary>
    public static IQueryable<long> PendingCallbacks(RelayDbContext db, long[] ids) =>
        db.Database.IsNpgsql()
            ? db.Database.SqlQuery<long>($"""
                SELECT "Id" AS "Value" FROM provider_callbacks WHERE "Id" = ANY({ids}) AND "ProcessedAt" IS NULL FOR UPDATE SKIP LOCKED
                """)
            : Pending(db, ids).Select(c => c.Id);

    /// <summary>Those of the raw callbacks still to be applied, unlocked: what <see cref="PendingCallbacks"/> chooses from.</summary>
    public static IQueryable<ProviderCallbackRecord> Pending(RelayDbContext db, long[] ids) =>
        db.ProviderCallbacks.Where(c => ids.Contains(c.Id) && c.ProcessedAt == null);

    /// <summary>
    /// How many rows a claim that came back short passed over that it had room for: rows its filter (<paramref name="matching"/>,
    /// unlocked) still matches that it did not take, up to its <paramref name="limit"/>. Those are rows another instance
    /// held locked, or that arrived since the claim: the contention between instances. Counted no further than the limit,
    /// and in the claim's own order (<see cref="Accepted"/> and <see cref="Unsent"/> come so), so the count walks the claim's index for
    /// a claim's worth of rows: unordered, PostgreSQL counted through a bitmap of every entry of the unsent rows' index,
    /// those of rows sent since the last vacuum included, 22 ms a count and 12% of its statement time on the outbox flat
    /// out. PostgreSQL only (SQLite runs one instance); 0 for a full claim, which lost nothing.
    /// </summary>
    public static async Task<int> PassedOverAsync<T>(RelayDbContext db, IQueryable<T> matching, int taken, int limit, CancellationToken ct)
    {
        if (taken >= limit || !db.Database.IsNpgsql())
            return 0;
        return Math.Max(0, await matching.Take(limit).CountAsync(ct) - taken);
    }
}
