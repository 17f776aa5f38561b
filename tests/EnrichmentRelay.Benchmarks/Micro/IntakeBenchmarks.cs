using BenchmarkDotNet.Attributes;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Requests;
using FluentValidation;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace EnrichmentRelay.Benchmarks.Micro;

/// <summary>
/// The intake's ledger writes on SQLite: 100 requests stored one transaction each (the old consumer, and still the
/// HTTP path) against one batch of 100 in one transaction (the bus consumer). The machine floor for comparison:
/// /work/shared/RECIPES.md, about 4,000 single-row transactions a second.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class IntakeBenchmarks
{
    const int Requests = 100;
    ServiceProvider services = null!;
    string path = null!;
    EnrichmentRequested[] batch = [];

    [GlobalSetup]
    public void Setup()
    {
        path = Path.Combine(Path.GetTempPath(), $"relay-micro-{Guid.NewGuid():N}.db");
        var collection = new ServiceCollection();
        collection.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        collection.AddDbContext<SqliteRelayDbContext>(o => o.UseSqlite($"Data Source={path}", LedgerExtensions.SqliteSettings));
        collection.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<SqliteRelayDbContext>());
        collection.AddSingleton(TimeProvider.System);
        collection.AddSingleton<OutboxSignal>();
        collection.AddSingleton<BatchFlushSignal>();
        collection.AddScoped<RequestCompletion>();
        collection.AddScoped<EnrichmentRelay.Jobs.Waterfall>();
        collection.AddScoped<IEnrichmentProvider, AnyNamedLead>();
        collection.AddScoped<IValidator<EnrichmentRequested>, EnrichmentRequestedValidator>();
        collection.AddScoped<EnrichmentIntake>();
        services = collection.BuildServiceProvider();
        using var scope = services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        db.Database.Migrate();
        db.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
    }

    [IterationSetup]
    public void NewRequests() => batch = Enumerable.Range(0, Requests).Select(Request).ToArray();

    [Benchmark(Baseline = true, Description = "100 requests, one transaction each")]
    public async Task OneTransactionPerRequest()
    {
        foreach (var request in batch)
        {
            await using var scope = services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<EnrichmentIntake>().ReceiveAsync(request, null, CancellationToken.None);
        }
    }

    [Benchmark(Description = "100 requests, one batch")]
    public async Task OneTransactionPerBatch()
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<EnrichmentIntake>()
            .ReceiveBatchAsync(batch.Select(r => new IncomingRequest(r, null)).ToList(), CancellationToken.None);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        services.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(path + suffix);
    }

    static EnrichmentRequested Request(int i) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = new Lead { FirstName = "Jane", LastName = $"Doe{i}", CompanyName = "Acme", CompanyDomain = "acme.com" },
        Fields = [EnrichmentField.Email, EnrichmentField.Phone],
        CorrelationData = new Dictionary<string, string> { ["crmId"] = $"0031t0000{i:D7}" },
    };

    /// <summary>A provider lane that takes any lead with a name: routing without any HTTP client behind it.</summary>
    sealed class AnyNamedLead : IEnrichmentProvider
    {
        public ProviderName Name => ProviderName.Precept;
        public string Lane => "precept";
        public int MaxBatchSize => 1000;
        public TimeSpan FlushWindow => TimeSpan.FromSeconds(2);
        public string? WhyCannotServe(EnrichmentRequested request) => request.Lead?.LastName is null ? "needs a name" : null;
        public Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct) =>
            throw new NotSupportedException();
    }
}
