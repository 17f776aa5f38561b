using MassTransit;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using Npgsql;
using EnrichmentRelay.Polling;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Woodpecker;

public static class WoodpeckerExtensions
{
    public static IHostApplicationBuilder AddWoodpeckerProvider(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WoodpeckerOptions>()
            .BindConfiguration(WoodpeckerOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (!builder.Configuration.GetValue(WoodpeckerOptions.Section + ":Enabled", true))
            return builder;

        builder.Services.AddSingleton<WoodpeckerRequestGate>();
        builder.Services.AddTransient<WoodpeckerRequestGate.Handler>();
        builder.Services.AddHttpClient<WoodpeckerClient>((sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value;
                http.BaseAddress = new Uri(options.BaseUrl!.ToString().TrimEnd('/') + "/");
                http.DefaultRequestHeaders.Add("x-api-key", options.ApiKey);
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline owns timeouts
            })
            // Outermost, so retries also wait their turn: Woodpecker processes one request at a time.
            .AddHttpMessageHandler<WoodpeckerRequestGate.Handler>()
            .AddProviderResilience(sp => sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value.RequestTimeout, maxConcurrentCalls: 1)
            .AddProviderPauseWatch(ProviderName.Woodpecker)
            .AddProviderCallMetrics(ProviderName.Woodpecker, WoodpeckerClient.Endpoints)
            .AddProviderAnswers(ProviderName.Woodpecker, WoodpeckerClient.Endpoints);

        // Order matters: a lead with a Lead Finder uid goes to lead enrichment before prospect enrichment.
        builder.Services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
        builder.Services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
        builder.Services.AddScoped<WoodpeckerPoller>();
        builder.AddBusConsumers((bus, _) => bus.AddConsumer<PollWoodpeckerConsumer, PollWoodpeckerConsumerDefinition>());
        builder.Services.AddSingleton(sp => new PollSchedule(PollWoodpeckerConsumer.Schedule,
            sp.GetRequiredService<IOptions<WoodpeckerOptions>>().Value.PollInterval,
            (tick, at) => new PollWoodpecker(tick, at)));
        return builder;
    }
}

/// <summary>
/// Woodpecker processes one request at a time per key and drops what waits too long, so the relay sends
/// it one request at a time, submits and polls alike: one at a time within this process, and on PostgreSQL
/// one at a time across every instance sharing the database (a session advisory lock held for the call;
/// PostgreSQL releases it by itself should the instance die mid-call).
/// </summary>
public sealed class WoodpeckerRequestGate(IOptions<LedgerOptions> ledger)
{
    /// <summary>The advisory lock key every instance agrees on (any fixed 64-bit number not used for anything else).</summary>
    const long AdvisoryLockKey = 0x52_45_4C_41_59_57_50; // "RELAYWP"

    readonly SemaphoreSlim turn = new(1, 1);

    async Task<IAsyncDisposable?> TakeSharedTurnAsync(CancellationToken ct)
    {
        if (ledger.Value.Engine != LedgerEngine.Postgres)
            return null;
        var connection = new NpgsqlConnection(ledger.Value.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var take = new NpgsqlCommand($"SELECT pg_advisory_lock({AdvisoryLockKey})", connection);
            await take.ExecuteNonQueryAsync(ct);
            return new SharedTurn(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    sealed class SharedTurn(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var give = new NpgsqlCommand($"SELECT pg_advisory_unlock({AdvisoryLockKey})", connection);
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

    public sealed class Handler(WoodpeckerRequestGate gate) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            await gate.turn.WaitAsync(ct);
            try
            {
                await using var shared = await gate.TakeSharedTurnAsync(ct);
                return await base.SendAsync(request, ct);
            }
            finally
            {
                gate.turn.Release();
            }
        }
    }
}
