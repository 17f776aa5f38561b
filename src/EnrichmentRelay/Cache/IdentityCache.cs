using System.Text.Json;
using EnrichmentRelay.Budgets;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Cache;

/// <summary>One field the cache answers: the values found (none: the provider looked and found nothing), by whom, when.</summary>
public sealed record CachedField(EnrichmentField Field, bool Found, IReadOnlyList<string> Values, ProviderName Provider, DateTimeOffset FoundAt);

/// <summary>What the cache knows of one request: the fields it answers, and those it does not (still to ask a provider).</summary>
public sealed record CachedAnswer(IReadOnlyList<CachedField> Fields, IReadOnlyList<EnrichmentField> Missing)
{
    /// <summary>Every field asked is answered: the request completes with no call.</summary>
    public bool Whole => Missing.Count == 0;
}

/// <summary>What forgetting a person deleted: the cache rows, and the identity keys they were stored under.</summary>
public sealed record ForgottenIdentity(int RowsDeleted, int IdentityKeys);

/// <summary>
/// The identity cache: what providers found (or did not find) for a person, per normalized identity key
/// (<see cref="IdentityKeys"/>) and field, reused for <see cref="CacheOptions.FoundFor"/> (misses for
/// <see cref="CacheOptions.NotFoundFor"/>) so the relay does not pay twice for the same contact. Rows are stored with
/// each request's completion, in its transaction (<see cref="ICompletionStaging"/>); intake looks a whole batch up in one
/// query. Only what a provider answered is kept: failed, timed out, rejected and out-of-credit attempts are not.
/// </summary>
public sealed class IdentityCache(RelayDbContext db, IOptions<CacheOptions> options, BudgetSettings prices, RelayMetrics metrics, ILogger<IdentityCache> logger)
    : ICompletionStaging
{
    CacheOptions Settings => options.Value;

    public bool Enabled => Settings.Enabled;

    /// <summary>
    /// The cache's answers for these requests, by RequestId (requests it knows nothing of are absent), read in one query.
    /// Of several rows for a field (under several keys of the lead, or stored at different times) the newest wins.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, CachedAnswer>> LookupAsync(IReadOnlyList<EnrichmentRequested> requests, DateTimeOffset now, CancellationToken ct)
    {
        if (!Enabled || requests.Count == 0)
            return new Dictionary<Guid, CachedAnswer>();
        var keysOf = requests.ToDictionary(r => r.RequestId, r => IdentityKeys.Of(r.Lead));
        var keys = keysOf.Values.SelectMany(k => k).Distinct().ToList();
        if (keys.Count == 0)
            return new Dictionary<Guid, CachedAnswer>();
        var rows = await RowsForAsync(keys, ct);
        // The settings as they are now: a row stored under a longer setting is not reused past today's.
        var usable = rows.Where(r => r.ExpiresAt > now && (r.Found ? r.FoundAt + Settings.FoundFor > now : r.FoundAt + Settings.NotFoundFor > now))
            .ToLookup(r => r.Key);

        var answers = new Dictionary<Guid, CachedAnswer>();
        foreach (var request in requests)
        {
            var candidates = keysOf[request.RequestId].SelectMany(k => usable[k]).ToList();
            if (candidates.Count == 0)
                continue;
            var fields = new List<CachedField>();
            var missing = new List<EnrichmentField>();
            foreach (var field in request.Fields ?? [])
            {
                var newest = candidates.Where(c => c.Field == field).OrderByDescending(c => c.FoundAt).ThenByDescending(c => c.Found).FirstOrDefault();
                if (newest is null || Read(newest) is not { } cached)
                    missing.Add(field);
                else
                    fields.Add(cached);
            }
            if (fields.Count > 0)
                answers[request.RequestId] = new CachedAnswer(fields, missing);
        }
        return answers;
    }

    /// <summary>
    /// The rows stored under <paramref name="keys"/>, expired ones included (the caller checks; retention deletes them).
    /// On PostgreSQL one index lookup per key (<c>OFFSET 0</c> keeps the planner from turning the lookups into a join):
    /// given <c>"Key" = ANY(…)</c> or a join, its planner chose a scan of the whole table (or of the expiry index)
    /// whenever its statistics lagged behind the growing table: 8 to 45 ms a batch, the largest share of the database's
    /// time under load (docs/performance.md).
    /// </summary>
    Task<List<IdentityCacheRecord>> RowsForAsync(List<string> keys, CancellationToken ct) =>
        (db.Database.IsNpgsql()
            ? db.IdentityCache.FromSql($"""
                SELECT c.* FROM unnest({keys.ToArray()}::text[]) AS k("Key")
                CROSS JOIN LATERAL (SELECT * FROM identity_cache AS i WHERE i."Key" = k."Key" OFFSET 0) AS c
                """)
            : db.IdentityCache.Where(c => keys.Contains(c.Key))).AsNoTracking().ToListAsync(ct);

    /// <summary>A stored row as an answer; null (and logged) when it cannot be read: a bad row is skipped, never fatal.</summary>
    CachedField? Read(IdentityCacheRecord row)
    {
        try
        {
            var values = JsonSerializer.Deserialize<List<string>>(row.ValuesJson) ?? [];
            if (row.Found && values.Count == 0)
                throw new JsonException("a found row with no value");
            return new CachedField(row.Field, row.Found, values, row.Provider, row.FoundAt);
        }
        catch (JsonException ex)
        {
            logger.LogWarning("Identity cache row {CacheRowId} is unreadable ({Reason}); its field is asked of a provider instead", row.Id, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// The cache's answer as ended attempts of the request, numbered from 1: one per provider that originally answered,
    /// marked <see cref="RequestAttemptRecord.FromCache"/>, charging nothing; in the order the providers answered.
    /// </summary>
    public static List<RequestAttemptRecord> Attempts(Guid requestId, CachedAnswer answer, DateTimeOffset now) =>
        answer.Fields.GroupBy(f => f.Provider).OrderBy(g => g.Min(f => f.FoundAt)).Select((byProvider, index) =>
        {
            var fields = byProvider.ToList();
            var found = fields.Any(f => f.Found);
            return new RequestAttemptRecord
            {
                RequestId = requestId, Number = index + 1, Provider = byProvider.Key, Lane = "cache", JobId = Guid.Empty, FromCache = true,
                StartedAt = now, CompletedAt = now, Outcome = found ? Outcome.Found : Outcome.NotFound, CreditsCharged = 0m,
                Detail = $"From the identity cache: what {RelayMetrics.Tag(byProvider.Key)} answered on {fields.Min(f => f.FoundAt):yyyy-MM-dd HH:mm} UTC.",
                FieldsJson = LedgerViews.WriteFields(fields.Select(f => f.Field)),
                EmailsJson = JsonSerializer.Serialize(fields.Where(f => f.Field == EnrichmentField.Email).SelectMany(f => f.Values).ToList()),
                PhonesJson = JsonSerializer.Serialize(fields.Where(f => f.Field == EnrichmentField.Phone).SelectMany(f => f.Values).ToList()),
            };
        }).ToList();

    /// <summary>A whole answer as the request's result: found when any field was found, else notFound; no credits.</summary>
    public static CompletionResult Result(CachedAnswer answer)
    {
        var emails = answer.Fields.Where(f => f.Field == EnrichmentField.Email).SelectMany(f => f.Values).ToList();
        var phones = answer.Fields.Where(f => f.Field == EnrichmentField.Phone).SelectMany(f => f.Values).ToList();
        if (emails.Count + phones.Count > 0)
            return new CompletionResult(Outcome.Found, emails, phones, CreditsCharged: 0m);
        var by = string.Join(", ", answer.Fields.Select(f => RelayMetrics.Tag(f.Provider)).Distinct());
        return new CompletionResult(Outcome.NotFound, Detail: $"Not found by {by} (from the identity cache).", CreditsCharged: 0m);
    }

    /// <summary>What the answer saved: each answering provider's price for the fields it answered (the budget price table).</summary>
    public decimal CreditsSaved(CachedAnswer answer) =>
        answer.Fields.GroupBy(f => f.Provider).Sum(g => prices.For(g.Key).WorstCase(g.Select(f => f.Field).ToList()));

    /// <summary>Counts a lookup once its request is stored: a hit (whole), a partial answer or a miss, and the credits saved.</summary>
    public void Counted(CachedAnswer? answer)
    {
        if (!Enabled)
            return;
        metrics.CacheLookup(answer is null ? "miss" : answer.Whole ? "hit" : "partial");
        if (answer is not null)
            foreach (var byProvider in answer.Fields.GroupBy(f => f.Provider))
                metrics.CacheCreditsSaved(byProvider.Key, prices.For(byProvider.Key).WorstCase(byProvider.Select(f => f.Field).ToList()));
    }

    void ICompletionStaging.Completing(EnrichmentRequestRecord request, IReadOnlyList<RequestAttemptRecord> attempts, DateTimeOffset now)
    {
        if (!Enabled || attempts.Count == 0)
            return;
        try
        {
            Store(request, attempts, now);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Remembering is a saving, not the request's outcome: a request that cannot be read for it still completes.
            logger.LogWarning(ex, "Request {RequestId} completed but its answers could not be cached", request.RequestId);
        }
    }

    void Store(EnrichmentRequestRecord request, IReadOnlyList<RequestAttemptRecord> attempts, DateTimeOffset now)
    {
        var keys = IdentityKeys.Of(LedgerViews.ReadRequest(request).Lead);
        if (keys.Count == 0)
            return;
        var remembered = Remembered(attempts);
        if (remembered.Count == 0)
            return;
        // The emails found identify the person too: forgetting one of them forgets these rows.
        var allKeys = keys.Concat(remembered.Where(r => r.Field == EnrichmentField.Email).SelectMany(r => r.Values).Select(IdentityKeys.Email).OfType<string>())
            .Distinct().ToList();
        var keysJson = JsonSerializer.Serialize(allKeys);
        foreach (var answer in remembered)
        {
            var keep = answer.Found ? Settings.FoundFor : Settings.NotFoundFor;
            if (keep <= TimeSpan.Zero)
                continue;
            foreach (var key in keys)
                db.IdentityCache.Add(new IdentityCacheRecord
                {
                    Key = key, Field = answer.Field, Found = answer.Found, ValuesJson = JsonSerializer.Serialize(answer.Values),
                    Provider = answer.Provider, RequestId = request.RequestId, KeysJson = keysJson, FoundAt = answer.FoundAt,
                    ExpiresAt = answer.FoundAt + keep,
                });
        }
    }

    /// <summary>
    /// Per field, what the request's provider attempts (not the cache's) settled: found by the first that found it; else
    /// not found when the last attempt that asked for it looked and found nothing. A field whose last word was a failure,
    /// a timeout, a refusal or no credits is not remembered: nobody looked.
    /// </summary>
    static List<CachedField> Remembered(IReadOnlyList<RequestAttemptRecord> attempts)
    {
        var asked = attempts.Where(a => !a.FromCache && !a.IsOpen && a.FieldsJson is not null).OrderBy(a => a.Number).ToList();
        var remembered = new List<CachedField>();
        foreach (var field in Enum.GetValues<EnrichmentField>())
        {
            var asking = asked.Where(a => LedgerViews.ReadFields(a.FieldsJson).Contains(field)).ToList();
            if (asking.Count == 0)
                continue;
            var finder = asking.Select(a => (Attempt: a, Values: LedgerViews.ReadList(field == EnrichmentField.Email ? a.EmailsJson : a.PhonesJson)))
                .FirstOrDefault(f => f.Values.Count > 0);
            if (finder.Attempt is not null)
                remembered.Add(new CachedField(field, true, finder.Values, finder.Attempt.Provider, finder.Attempt.CompletedAt!.Value));
            else if (LedgerViews.FieldOutcomes(asking[^1]).FirstOrDefault(f => f.Field == field)?.Outcome == Outcome.NotFound)
                remembered.Add(new CachedField(field, false, [], asking[^1].Provider, asking[^1].CompletedAt!.Value));
        }
        return remembered;
    }

    /// <summary>
    /// Forgets a person: deletes every cache row stored under any of <paramref name="keys"/>, and, in turn, under every
    /// other key stored with those rows (the lead's other identifiers, the emails found), until none is left.
    /// </summary>
    public async Task<ForgottenIdentity> ForgetAsync(IReadOnlyList<string> keys, CancellationToken ct)
    {
        var seen = new HashSet<string>();
        var pending = new Queue<string>(keys.Distinct());
        var rows = new HashSet<long>();
        while (pending.TryDequeue(out var key))
        {
            if (!seen.Add(key))
                continue;
            // Every row stored with this key lists it in its keys (its own key included).
            var found = await db.IdentityCache.AsNoTracking().Where(c => c.Key == key || c.KeysJson.Contains(key))
                .Select(c => new { c.Id, c.KeysJson }).ToListAsync(ct);
            foreach (var row in found)
            {
                rows.Add(row.Id);
                foreach (var other in JsonSerializer.Deserialize<List<string>>(row.KeysJson) ?? [])
                    if (!seen.Contains(other))
                        pending.Enqueue(other);
            }
        }
        var ids = rows.ToList();
        var deleted = 0;
        foreach (var chunk in ids.Chunk(500))
            deleted += await db.IdentityCache.Where(c => chunk.Contains(c.Id)).ExecuteDeleteAsync(ct);
        return new ForgottenIdentity(deleted, seen.Count);
    }
}
