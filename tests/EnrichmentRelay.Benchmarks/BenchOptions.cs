using Microsoft.Extensions.Configuration;

namespace EnrichmentRelay.Benchmarks;

/// <summary>What to run and how hard; every default is what infra/bench.sh runs.</summary>
public sealed class BenchOptions
{
    /// <summary>e2e-postgres-fsync-off: one extra flat-out run with fsync off, labelled as not durable (what durability costs).</summary>
    public static readonly string[] AllSections = ["e2e-sqlite", "e2e-postgres", "instances", "e2e-postgres-fsync-off", "webhook", "batch", "waterfall", "memory"];

    public IReadOnlyList<string> Sections { get; init; } = AllSections;
    /// <summary>Requests of a flat-out end-to-end run.</summary>
    public int Requests { get; init; } = 20_000;
    /// <summary>
    /// Requests of one warm-up round before a measured end-to-end run, all instances together, not counted; by default as
    /// many as a flat-out run (<see cref="Requests"/>), so the rounds have the measured run's shape: code that runs once
    /// per job or per batch reaches its tier-1 call count in the warm-up, not in the measured run. Rounds go on until the
    /// relays' JIT is quiet (<see cref="QuietJitMethods"/>), for at most <see cref="MaxWarmUp"/> per instance.
    /// </summary>
    public int? WarmUpRequests { get; init; }
    public int WarmUpRound => WarmUpRequests ?? Requests;
    /// <summary>
    /// A warm-up round after which each instance compiled at most this many methods ends the warm-up: tiered compilation
    /// profiles and recompiles a relay's hot methods for a minute or more of flat-out load after it starts, a cost a
    /// running service no longer pays, and one that three fresh instances pay three times over.
    /// </summary>
    public int QuietJitMethods { get; init; } = 50;
    /// <summary>Flat-out runs of the bare chain after its warm-up; the median is its figure (its rate varies widely from run to run).</summary>
    public int BaselineRuns { get; init; } = 3;
    /// <summary>Flat-out measured runs of a relay (or of several instances) after its warm-up; the median is its figure.</summary>
    public int RelayRuns { get; init; } = 3;
    /// <summary>
    /// The longest warm-up per relay instance. With the runtime's JIT defaults a relay under full load profiles and
    /// compiles its hot code again for 150,000 requests or so (a minute and a half here); three instances sharing the
    /// cores each take about three times as long.
    /// </summary>
    public TimeSpan MaxWarmUp { get; init; } = TimeSpan.FromSeconds(90);
    /// <summary>The goal rates, which are also the paced runs' rates.</summary>
    public double PostgresGoal { get; init; } = 1000;
    public double SqliteGoal { get; init; } = 500;
    public double PacedSeconds { get; init; } = 10;
    public int Instances { get; init; } = 3;
    public double WebhookRate { get; init; } = 500;
    public int WebhookClients { get; init; } = 16;
    /// <summary>Webhook ingest runs on each: SQLite (one writer, shared with the callback processor) and PostgreSQL behave differently.</summary>
    public IReadOnlyList<Infrastructure.Engine> WebhookEngines { get; init; } = [Infrastructure.Engine.Sqlite, Infrastructure.Engine.Postgres];
    public Infrastructure.Engine BatchEngine { get; init; } = Infrastructure.Engine.Sqlite;
    public Infrastructure.Engine MemoryEngine { get; init; } = Infrastructure.Engine.Postgres;
    public Infrastructure.Engine WaterfallEngine { get; init; } = Infrastructure.Engine.Sqlite;
    public IReadOnlyList<int> MemorySteps { get; init; } = [10_000, 100_000];
    /// <summary>A run gives up waiting when no completion arrived for this long.</summary>
    public TimeSpan StallLimit { get; init; } = TimeSpan.FromSeconds(30);
    public string OutputDirectory { get; init; } = "bench-results";

    public static BenchOptions Parse(string[] args)
    {
        var c = new ConfigurationBuilder().AddCommandLine(args).Build();
        var defaults = new BenchOptions();
        return new BenchOptions
        {
            Sections = c["sections"] is { Length: > 0 } s ? s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : defaults.Sections,
            Requests = c.GetValue("requests", defaults.Requests),
            WarmUpRequests = c.GetValue<int?>("warm-up"),
            QuietJitMethods = c.GetValue("quiet-jit-methods", defaults.QuietJitMethods),
            BaselineRuns = c.GetValue("baseline-runs", defaults.BaselineRuns),
            RelayRuns = c.GetValue("relay-runs", defaults.RelayRuns),
            MaxWarmUp = TimeSpan.FromSeconds(c.GetValue("max-warm-up-seconds", defaults.MaxWarmUp.TotalSeconds)),
            PostgresGoal = c.GetValue("postgres-goal", defaults.PostgresGoal),
            SqliteGoal = c.GetValue("sqlite-goal", defaults.SqliteGoal),
            PacedSeconds = c.GetValue("paced-seconds", defaults.PacedSeconds),
            Instances = c.GetValue("instances", defaults.Instances),
            WebhookRate = c.GetValue("webhook-rate", defaults.WebhookRate),
            WebhookClients = c.GetValue("webhook-clients", defaults.WebhookClients),
            WebhookEngines = c.GetValue<string?>("webhook-engine") is { } one ? [Enum.Parse<Infrastructure.Engine>(one, ignoreCase: true)] : defaults.WebhookEngines,
            BatchEngine = c.GetValue("batch-engine", defaults.BatchEngine),
            MemoryEngine = c.GetValue("memory-engine", defaults.MemoryEngine),
            WaterfallEngine = c.GetValue("waterfall-engine", defaults.WaterfallEngine),
            MemorySteps = c["memory-steps"] is { Length: > 0 } m ? m.Split(',').Select(int.Parse).ToList() : defaults.MemorySteps,
            StallLimit = TimeSpan.FromSeconds(c.GetValue("stall-seconds", defaults.StallLimit.TotalSeconds)),
            OutputDirectory = c["out"] ?? defaults.OutputDirectory,
        };
    }
}
