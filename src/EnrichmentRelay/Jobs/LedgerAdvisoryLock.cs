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
    public async Task<IAsyncDisposable?> TakeAsync(long key, CancellationToken ct)
    {
        if (ledger.Value.Engine != LedgerEngine.Postgres)
            return null;
        var connection = new NpgsqlConnection(ledger.Value.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var take = new NpgsqlCommand($"SELECT pg_advisory_lock({key})", connection);
            await take.ExecuteNonQueryAsync(ct);
            return new Held(connection, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    sealed class Held(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var give = new NpgsqlCommand($"SELECT pg_advisory_unlock({key})", connection);
                await give.ExecuteNonQueryAsync();
            }
            finally
            {
                // An unlock fails only on a broken connection, whose session (and lock) PostgreSQL ends by itself;
                // a pooled connection is also reset (DISCARD ALL) before it is used again.
                await connection.DisposeAsync();
            }
        }
    }
}
