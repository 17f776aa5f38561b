using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Jobs;

/// <summary>What readers may ask of the relay's own jobs, answered from the ledger.</summary>
public sealed class JobDirectory(RelayDbContext db) : IJobDirectory
{
    public async Task<IReadOnlySet<string>> ExternalIdsAsync(ProviderName provider, DateTimeOffset from, DateTimeOffset to, Guid except, CancellationToken ct) =>
        (await db.ProviderJobs.AsNoTracking()
            .Where(j => j.Provider == provider && j.ExternalId != null && j.Id != except && j.CreatedAt >= from && j.CreatedAt <= to)
            .Select(j => j.ExternalId!).ToListAsync(ct))
        .ToHashSet();

    public Task<bool> HoldsAsync(ProviderName provider, string externalId, CancellationToken ct) =>
        db.ProviderJobs.AnyAsync(j => j.Provider == provider && j.ExternalId == externalId, ct);
}
