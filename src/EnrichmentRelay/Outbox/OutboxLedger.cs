using EnrichmentRelay.Ledger;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Outbox;

/// <summary>
/// The outbox dispatcher's statements against the ledger. Each is short and stands alone: no transaction or row
/// lock is held while the broker is asked anything; the lease is what keeps other instances off the claimed rows.
/// </summary>
public static class OutboxLedger
{
    /// <summary>
    /// Leases the oldest rows <paramref name="holder"/> may publish (see <see cref="RowClaims.UnsentOutboxIds"/>) until
    /// <paramref name="now"/> + <paramref name="lease"/>. Returns them with the lease they had before, so the caller sees
    /// which it took over from an instance whose lease ran out, how many rows it passed over
    /// (<see cref="RowClaims.PassedOverAsync{T}"/>), and whether it leased them.
    /// SQLite runs one instance (<see cref="SqliteInstanceLock"/>), so no lease is written there: it would keep no other
    /// instance off, would cost each round a commit (an fsync under SQLite's one write lock), and would keep a relay
    /// restarted after a crash waiting for its previous run's lease to run out before publishing what that run left.
    /// </summary>
    public static async Task<OutboxClaim> ClaimAsync(RelayDbContext db, string holder, DateTimeOffset now,
        TimeSpan lease, int limit, CancellationToken ct)
    {
        await using var claim = await RowClaims.BeginAsync(db, ct);
        await QueueReads.InIndexOrderAsync(db, ct);
        var ids = await RowClaims.UnsentOutboxIds(db, holder, now, limit).ToListAsync(ct);
        var rows = ids.Count == 0 ? [] : (await RowClaims.OutboxRows(db, ids).ToListAsync(ct)).OrderBy(r => r.Id).ToList();
        if (!db.Database.IsNpgsql())
            return new OutboxClaim(rows, 0, Leased: false);
        var passedOver = await RowClaims.PassedOverAsync(db, RowClaims.Unsent(db, holder, now), rows.Count, limit, ct);
        if (rows.Count == 0)
            return new OutboxClaim(rows, passedOver, Leased: true);
        var until = now + lease;
        await db.Outbox.Where(m => ids.Contains(m.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LeasedBy, holder).SetProperty(m => m.LeasedUntil, until), ct);
        if (claim is not null)
            await claim.CommitAsync(ct);
        return new OutboxClaim(rows, passedOver, Leased: true);
    }

    /// <summary>
    /// Records rows as sent; repeating it (a retry after an error whose write did land) keeps the first time. The rows are
    /// found by id alone: with "and not yet sent" beside it, PostgreSQL chose to read every unsent entry of an index instead.
    /// </summary>
    public static Task<int> MarkSentAsync(RelayDbContext db, IReadOnlyCollection<long> ids, DateTimeOffset now, CancellationToken ct) =>
        db.Outbox.Where(m => ids.Contains(m.Id)).ExecuteUpdateAsync(s => s.SetProperty(m => m.SentAt, m => m.SentAt ?? now), ct);

    /// <summary>Hands rows <paramref name="holder"/> leased and did not send back to the queue: those of <paramref name="ids"/>, or all.</summary>
    public static Task<int> ReleaseAsync(RelayDbContext db, string holder, IReadOnlyCollection<long>? ids, CancellationToken ct)
    {
        var mine = db.Outbox.Where(m => m.LeasedBy == holder && m.SentAt == null);
        if (ids is not null)
            mine = mine.Where(m => ids.Contains(m.Id));
        return mine.ExecuteUpdateAsync(s => s.SetProperty(m => m.LeasedBy, (string?)null).SetProperty(m => m.LeasedUntil, (DateTimeOffset?)null), ct);
    }

    /// <summary>Moves a row that can never be published to the dead letters, in one transaction: it is in exactly one of the two.</summary>
    public static async Task<DeadLetterRecord> DeadLetterAsync(RelayDbContext db, OutboxMessage row, Exception why, DateTimeOffset now, CancellationToken ct)
    {
        var letter = OutboxRows.ToDeadLetter(row, NewId.NextGuid(), why.GetType().FullName ?? why.GetType().Name, why.Message, now);
        db.DeadLetters.Add(letter);
        db.Outbox.Remove(row);
        await db.SaveChangesAsync(ct);
        return letter;
    }
}

/// <summary>The rows a round took, how many it passed over (another instance held them), and whether it leased them (not on SQLite).</summary>
public sealed record OutboxClaim(List<OutboxMessage> Rows, int PassedOver, bool Leased);
