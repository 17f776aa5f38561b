using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// The lock every instance sharing the ledger agrees on: on PostgreSQL a session advisory lock, taken on a connection of
/// its own and held as long as the caller holds it (PostgreSQL releases it by itself should the instance die mid-call);
/// on SQLite, which serves one instance alone, there is no other instance to keep out.
/// </summary>
public sealed class LedgerAdvisoryLock(IOptions<LedgerOptions> ledger) : ICrossInstanceLock
{
    // The ledger's own connections (their pool, their prepared statements): the key is a parameter, so each of these
    // statements is one text.
    readonly Lazy<string> connectionString = new(() => LedgerExtensions.WithAutoPrepare(ledger.Value.ConnectionString));

    public async Task<IAsyncDisposable?> TakeAsync(long key, CancellationToken ct) =>
        ledger.Value.Engine != LedgerEngine.Postgres ? null : await LockAsync("SELECT pg_advisory_lock($1)", key, ct);

    public async Task<IAsyncDisposable?> TryTakeAsync(long key, CancellationToken ct) =>
        ledger.Value.Engine != LedgerEngine.Postgres ? NoOtherInstance.Lock : await LockAsync("SELECT pg_try_advisory_lock($1)", key, ct);

    /// <returns>The lock, or null when <paramref name="sql"/> (a try) answered that another session holds it.</returns>
    async Task<IAsyncDisposable?> LockAsync(string sql, long key, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(connectionString.Value);
        try
        {
            await connection.OpenAsync(ct);
            await using var take = new NpgsqlCommand(sql, connection) { Parameters = { new() { Value = key } } };
            if (await take.ExecuteScalarAsync(ct) is false)
            {
                await connection.DisposeAsync();
                return null;
            }
            return new Held(connection, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    sealed class NoOtherInstance : IAsyncDisposable
    {
        public static readonly NoOtherInstance Lock = new();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    sealed class Held(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var give = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection) { Parameters = { new() { Value = key } } };
                await give.ExecuteNonQueryAsync();
            }
            finally
            {
                // An unlock fails only on a broken connection, whose session (and lock) PostgreSQL ends by itself;
                // a pooled connection is also reset before it is used again, its advisory locks released (DISCARD ALL, or
                // pg_advisory_unlock_all when it keeps prepared statements).
                await connection.DisposeAsync();
            }
        }
    }
}
