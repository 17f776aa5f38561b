using EnrichmentRelay.Budgets;
using EnrichmentRelay.Cache;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Webhooks;
using FluentValidation;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests;

/// <summary>
/// The relay's ledger services on a throwaway SQLite file, with fake time and a scripted provider:
/// enough to test intake, batching and completion without a broker or network.
/// </summary>
public sealed class LedgerTestHost : IAsyncDisposable
{
    readonly string databasePath = Path.Combine(Path.GetTempPath(), $"relay-test-{Guid.NewGuid():N}.db");

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    public ScriptedProvider Provider { get; } = new();
    public ServiceProvider Services { get; }

    /// <param name="scriptedProvider">false when the test registers a real provider for the Precept lane instead.</param>
    public LedgerTestHost(Action<IServiceCollection, FakeTimeProvider>? configure = null, bool scriptedProvider = true)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<RelayMetrics>();
        services.AddDbContext<SqliteRelayDbContext>(o => o.UseSqlite($"Data Source={databasePath}", LedgerExtensions.SqliteSettings));
        services.AddScoped<RelayDbContext>(sp => sp.GetRequiredService<SqliteRelayDbContext>());
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<BatchFlushSignal>();
        services.AddScoped<RequestCompletion>();
        services.AddScoped<IValidator<EnrichmentRequested>, EnrichmentRequestedValidator>();
        services.AddScoped<EnrichmentIntake>();
        // The identity cache is off unless a test turns it on (Cache tests): most tests send the same lead again on purpose.
        services.AddSingleton(Options.Create(new CacheOptions { FoundFor = TimeSpan.Zero, Coalesce = false }));
        services.AddScoped<IdentityCache>();
        services.AddScoped<Coalescing>();
        services.AddSingleton<FollowerSweep>();
        services.AddScoped<ICompletionStaging>(sp => sp.GetRequiredService<IdentityCache>());
        services.AddSingleton(Provider);
        if (scriptedProvider)
            services.AddScoped<IEnrichmentProvider>(sp => sp.GetRequiredService<ScriptedProvider>());
        services.AddSingleton(Options.Create(new ProviderPauseOptions()));
        services.AddSingleton<ProviderPauses>();
        services.AddSingleton<BatchFlusher>();
        // Budgets as the settings leave them (no cap, no ceiling) unless a test replaces these options.
        services.AddSingleton(Options.Create(new BudgetsOptions()));
        services.AddSingleton(Options.Create(new PreceptBudgetOptions()));
        services.AddSingleton(Options.Create(new WoodpeckerBudgetOptions()));
        services.AddSingleton(Options.Create(new LanceBudgetOptions()));
        services.AddSingleton<BudgetSettings>();
        services.AddScoped<ProviderBudgets>();
        services.AddSingleton<BudgetSettlement>();
        services.AddScoped<Waterfall>();
        services.AddScoped<JobResults>();
        services.AddScoped<IJobDirectory, JobDirectory>();
        services.AddSingleton(Options.Create(new JobsOptions()));
        services.AddSingleton<JobPolls>();
        // Callback addresses are built, never called, here.
        services.AddSingleton(Options.Create(new RelayOptions { PublicBaseUrl = "http://127.0.0.1:9/" }));
        services.AddSingleton<IServer, NoServer>();
        services.AddSingleton<PublicUrls>();
        services.AddSingleton<CallbackSignal>();
        services.AddSingleton<CallbackProcessor>();
        services.AddSingleton(Options.Create(new LedgerOptions()));
        services.AddSingleton<ICrossInstanceLock, LedgerAdvisoryLock>();
        // Callback bodies are applied as they are here; verification against Precept is tested with the sandbox.
        services.AddSingleton(Options.Create(new PreceptOptions { VerifyCallbacks = false }));
        configure?.Invoke(services, Time);
        Services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });

        using var scope = Services.CreateScope();
        scope.ServiceProvider.GetRequiredService<RelayDbContext>().Database.Migrate();
    }

    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    public Task<IntakeResult> ReceiveAsync(EnrichmentRequested request, Guid? messageId = null) =>
        InScopeAsync(sp => sp.GetRequiredService<EnrichmentIntake>().ReceiveAsync(request, messageId, CancellationToken.None));

    public Task<IReadOnlyList<IntakeResult>> ReceiveBatchAsync(params IncomingRequest[] batch) =>
        InScopeAsync(sp => sp.GetRequiredService<EnrichmentIntake>().ReceiveBatchAsync(batch, CancellationToken.None));

    public Task<List<EnrichmentRequestRecord>> RequestsAsync() =>
        InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Requests.AsNoTracking().OrderBy(r => r.AcceptedAt).ToListAsync());

    public Task<List<OutboxMessage>> OutboxAsync() =>
        InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Outbox.AsNoTracking().OrderBy(m => m.Id).ToListAsync());

    public Task<List<ProviderJobRecord>> JobsAsync() =>
        InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderJobs.AsNoTracking().ToListAsync());

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(databasePath + suffix);
    }

    public static EnrichmentRequested ValidRequest(Guid? id = null, string lastName = "Doe") => new()
    {
        RequestId = id ?? Guid.NewGuid(),
        Lead = new Lead { FirstName = "Jane", LastName = lastName, CompanyName = "Acme", CompanyDomain = "acme.com" },
        Fields = [EnrichmentField.Email],
        CorrelationData = new Dictionary<string, string> { ["crmId"] = "0031t00000AbCdE" },
    };
}

/// <summary>A provider whose submit answers are set by the test; records every call it gets.</summary>
public sealed class ScriptedProvider : IEnrichmentProvider
{
    public ProviderName Name => ProviderName.Precept;
    public string Lane => "precept";
    public int MaxBatchSize { get; set; } = 100;
    public TimeSpan FlushWindow { get; set; } = TimeSpan.FromSeconds(2);
    public Func<IReadOnlyList<PendingLead>, SubmitResult> Answer { get; set; } = _ => new SubmitResult(SubmitStatus.Accepted, "job-1");
    public List<IReadOnlyList<PendingLead>> Calls { get; } = [];

    public string? WhyCannotServe(EnrichmentRequested request) =>
        request.Lead!.LastName is null && request.Lead.LinkedInUrl is null ? "needs a name or a LinkedIn URL." : null;

    public Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct)
    {
        Calls.Add(call.Leads);
        return Task.FromResult(Answer(call.Leads));
    }
}

/// <summary>A server that never listens: what <see cref="PublicUrls"/> needs where Relay:PublicBaseUrl is set.</summary>
public sealed class NoServer : Microsoft.AspNetCore.Hosting.Server.IServer
{
    public Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

    public Task StartAsync<TContext>(Microsoft.AspNetCore.Hosting.Server.IHttpApplication<TContext> application, CancellationToken ct) where TContext : notnull =>
        Task.CompletedTask;

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public void Dispose()
    {
    }
}
