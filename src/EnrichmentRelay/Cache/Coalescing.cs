using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Cache;

/// <summary>
/// Identical requests in flight share one provider call. The first of an identity, fields and provider order to be
/// stored is the leader: its <see cref="InFlightRecord"/> (unique key, so across instances only one insert wins; the
/// loser's batch is stored again one by one and finds it) is written with it. The others are stored
/// <see cref="RequestState.Following"/> it, never batched; <see cref="FollowerSweep"/> completes them with its answer
/// once it completes (0 credits, its attempts copied and marked as from the cache, naming it), or puts them back in line
/// as requests of their own when it failed or timed out (a failure may be passing; a lead refused or without credits
/// would be refused again, so they share those). A leader always completes (the relay's sweeps and deadlines see to it,
/// whichever instance stored it), so no follower waits for ever.
/// </summary>
public sealed class Coalescing(RelayDbContext db, IOptions<CacheOptions> options)
{
    /// <summary>The key of requests that are identical: the lead's first identity key, the fields asked, the provider order.</summary>
    public static string? KeyOf(EnrichmentRequested request, IReadOnlyList<EnrichmentField> fields)
    {
        if (IdentityKeys.Of(request.Lead).FirstOrDefault() is not { } identity)
            return null;
        var text = $"{identity}|{string.Join(',', fields.Order())}|{string.Join(',', request.Providers ?? [])}";
        return $"inflight:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))}";
    }

    /// <summary>
    /// The leaders in flight for these keys (one query). Rows left by a leader that has completed are deleted (their
    /// followers are completed by the sweep), so a new request becomes a leader of its own.
    /// </summary>
    public async Task<Dictionary<string, Guid>> LeadersAsync(IReadOnlyCollection<string> keys, CancellationToken ct)
    {
        if (!options.Value.Coalesce || keys.Count == 0)
            return [];
        var rows = await db.InFlight.AsNoTracking().Where(f => keys.Contains(f.Key))
            .Select(f => new { f.Key, f.LeaderRequestId, Open = db.Requests.Any(r => r.RequestId == f.LeaderRequestId && r.State != RequestState.Completed) })
            .ToListAsync(ct);
        foreach (var stale in rows.Where(r => !r.Open))
            await db.InFlight.Where(f => f.Key == stale.Key && f.LeaderRequestId == stale.LeaderRequestId).ExecuteDeleteAsync(ct);
        return rows.Where(r => r.Open).ToDictionary(r => r.Key, r => r.LeaderRequestId);
    }

    /// <summary>
    /// A request about to be stored for a provider, under its <paramref name="key"/> (<see cref="KeyFor"/>; null: it is
    /// not coalesced): it follows the leader of its key when there is one (in <paramref name="leaders"/>: in flight, or
    /// earlier in the same batch), else becomes that leader, its in-flight row staged with it. True when it follows.
    /// </summary>
    public bool Coalesce(EnrichmentRequestRecord record, string? key, Dictionary<string, Guid> leaders, DateTimeOffset now)
    {
        if (key is null)
            return false;
        if (leaders.TryGetValue(key, out var leader))
        {
            record.State = RequestState.Following;
            record.LeaderRequestId = leader;
            return true;
        }
        leaders[key] = record.RequestId;
        db.InFlight.Add(new InFlightRecord { Key = key, LeaderRequestId = record.RequestId, CreatedAt = now });
        return false;
    }

    /// <summary>The key a request would be coalesced under, for the intake to look leaders up in one query.</summary>
    public string? KeyFor(EnrichmentRequestRecord record, EnrichmentRequested request) =>
        options.Value.Coalesce ? KeyOf(request, LedgerViews.FieldsAsked(record)) : null;

    /// <summary>The leader's ended attempts as the follower's: no call, no credits, naming the leader.</summary>
    public static List<RequestAttemptRecord> Shared(Guid followerId, Guid leaderId, IEnumerable<RequestAttemptRecord> leaderAttempts, DateTimeOffset now) =>
        leaderAttempts.Where(a => !a.IsOpen).OrderBy(a => a.Number).Select((a, index) => new RequestAttemptRecord
        {
            RequestId = followerId, Number = index + 1, Provider = a.Provider, Lane = "cache", JobId = Guid.Empty, FromCache = true,
            ProviderJobId = a.ProviderJobId, StartedAt = now, CompletedAt = now, Outcome = a.Outcome, CreditsCharged = 0m,
            Detail = $"Answered with identical request {leaderId:D}, in flight at the same time" + (a.Detail is null ? "." : $": {a.Detail}"),
            FieldsJson = a.FieldsJson, EmailsJson = a.EmailsJson, PhonesJson = a.PhonesJson,
        }).ToList();

    /// <summary>The leader's result as the follower's: the same outcome, contacts and detail, no credits.</summary>
    public static CompletionResult ResultOf(EnrichmentRequestRecord leader) => new(leader.Outcome!.Value,
        JsonSerializer.Deserialize<List<string>>(leader.EmailsJson ?? "[]"), JsonSerializer.Deserialize<List<string>>(leader.PhonesJson ?? "[]"),
        leader.Detail, 0m);
}
