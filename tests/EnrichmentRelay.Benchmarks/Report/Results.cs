using EnrichmentRelay.Benchmarks.Load;

namespace EnrichmentRelay.Benchmarks.Report;

/// <summary>One end-to-end run: the relay (or the bare chain) with N requests, flat out or paced.</summary>
public sealed record EndToEndResult
{
    /// <summary>Requests sent through right before the measured ones, not counted (JIT compilation, connections).</summary>
    public int WarmUpRequests { get; init; }
    /// <summary>Warm-up rounds the relay needed until its JIT was quiet (1 for the baseline, warmed as long as the relay run before it).</summary>
    public int WarmUpRounds { get; init; } = 1;
    /// <summary>The relay's JIT settings, as its runtimeconfig.json sets them (null for the baseline).</summary>
    public string? Jit { get; init; }
    public required string System { get; init; }           // "relay" or "baseline"
    public required string Engine { get; init; }           // "sqlite", "postgres", "-" for the baseline
    public int Instances { get; init; } = 1;
    public double? PacedRate { get; init; }                 // null: flat out
    public required int Requests { get; init; }
    public required int Completed { get; init; }
    public required int Duplicates { get; init; }
    public required double CompletionsPerSecond { get; init; }
    public required double PublishedPerSecond { get; init; }
    public required LatencySummary Latency { get; init; }
    public double RequestBytes { get; init; }
    public double CompletionBytes { get; init; }
    /// <summary>CPU seconds the relay (or republisher) processes used while measured.</summary>
    public double CpuSeconds { get; init; }
    /// <summary>
    /// Of <see cref="CpuSeconds"/>, the relay's time in the kernel: its sockets, and on SQLite the ledger's file reads,
    /// writes and fsyncs, which cost more on a busier disk or page cache while the relay's own code costs the same.
    /// </summary>
    public double KernelCpuSeconds { get; init; }
    /// <summary>
    /// CPU seconds the broker, PostgreSQL, the driver and the whole machine used while measured; flat out only. The machine's
    /// figure samples the cores at each clock tick, which misses much of a paced run's short bursts (processes' own times
    /// are scaled to the scheduler's exact run time): in paced runs it came out below the relay's own CPU.
    /// </summary>
    public Infrastructure.CpuSample? MachineCpu { get; init; }
    public int ProviderJobs { get; init; }
    public int LargestJob { get; init; }
    /// <summary>Leads the provider saw in more than one job (charged twice).</summary>
    public int LeadsSubmittedTwice { get; init; }
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
    public string? Note { get; init; }
    /// <summary>The ledger's durability during the run (the relay) or the broker's (the bare chain).</summary>
    public Durability? Durability { get; init; }
    /// <summary>Set on an extra run that is not one of the figures (e.g. PostgreSQL with fsync off): shown, never judged.</summary>
    public string? Label { get; init; }

    /// <summary>Rows claimed and passed over while measured (PostgreSQL's SKIP LOCKED), summed over the instances, by work.</summary>
    public IReadOnlyDictionary<string, ClaimFigures> Claims { get; init; } = new Dictionary<string, ClaimFigures>();

    /// <summary>The relay's garbage collections and JIT compilation while measured, summed over the instances (null for the baseline).</summary>
    public RuntimeFigures? Runtime { get; init; }

    public int Missing => Requests - Completed;
    public string Mode => PacedRate is { } r ? $"paced {r:0}/s" : "flat out";
}

/// <summary>
/// What the runtime did: bytes allocated, collections of each generation, seconds the process was paused, and methods
/// the JIT compiled (with the time it spent on them).
/// </summary>
public sealed record RuntimeFigures(double AllocatedBytes, double Gen0, double Gen1, double Gen2, double PauseSeconds, double JitMethods, double JitSeconds)
{
    public static RuntimeFigures operator -(RuntimeFigures after, RuntimeFigures before) => new(after.AllocatedBytes - before.AllocatedBytes,
        after.Gen0 - before.Gen0, after.Gen1 - before.Gen1, after.Gen2 - before.Gen2, after.PauseSeconds - before.PauseSeconds,
        after.JitMethods - before.JitMethods, after.JitSeconds - before.JitSeconds);
}

/// <summary>Rows the instances claimed for one kind of work, and rows their short claims left behind (locked by another).</summary>
public sealed record ClaimFigures(double Claimed, double PassedOver);

/// <summary>Webhook ingest: callbacks posted to the relay (or a bare endpoint) by concurrent clients.</summary>
public sealed record WebhookResult
{
    public const string BareNoStore = "bare Kestrel, no store";
    /// <summary>The floor the relay's ingest is judged against (issue #18): each body appended to one file and fsynced before the 202.</summary>
    public const string BareFsync = "bare Kestrel, fsync per body";

    public required string Target { get; init; }            // "relay, sqlite", "relay, postgres", BareNoStore or BareFsync
    public required string Shape { get; init; }             // "per job (100 leads)" or "streamed (1 lead)"
    public required int Clients { get; init; }
    public double? PacedRate { get; init; }
    public required int Callbacks { get; init; }
    public required int Failed { get; init; }               // answers other than 202, and transport errors
    /// <summary>What the failed posts got (status code or error), how often; warm-up posts included.</summary>
    public IReadOnlyDictionary<string, int> Failures { get; init; } = new Dictionary<string, int>();
    public required double CallbacksPerSecond { get; init; }
    public required LatencySummary Ack { get; init; }
    public double BodyBytes { get; init; }
    /// <summary>What the target kept before its 202: the relay's ledger as the database reported it, or the bare endpoint's mode.</summary>
    public Durability? Durability { get; init; }
    /// <summary>"alone", or what ran before the webhook section in the same run (e.g. "after e2e load").</summary>
    public string Ran { get; init; } = "alone";
    /// <summary>
    /// How long the driver itself (which times the acks, and hosts the provider sandbox) was paused by its collector during
    /// the run: an ack is timed from when its post was due, so a pause of the driver counts in every ack it delays.
    /// </summary>
    public double DriverPausedMs { get; init; }
    /// <summary>When, in seconds from the run's start, the first and last of the acks slower than its p99 were due: one stall, or spread out.</summary>
    public double[] SlowestAcksDue { get; init; } = [];

    public bool IsRelay => Target.StartsWith("relay", StringComparison.Ordinal);
    public string Mode => PacedRate is { } r ? $"paced {r:0}/s" : $"flat out, {Clients} clients";
}

public sealed record BatchFillResult(string Provider, int Leads, int Limit, int SubmitCalls, int LargestCall)
{
    public double IdealCalls => Math.Ceiling(Leads / (double)Limit);
    public double CallsPer1000 => SubmitCalls * 1000.0 / Leads;
    public double IdealPer1000 => 1000.0 / Limit;
    /// <summary>Ideal calls over actual calls: 100% when every call is as full as the limit allows.</summary>
    public double FillPercent => SubmitCalls == 0 ? 0 : IdealCalls / SubmitCalls * 100;
}

public sealed record PollCostResult(string Provider, int Completed, int StatusRequests, int OtherReads, string Breakdown)
{
    public double StatusPerCompletion => Completed == 0 ? double.NaN : StatusRequests / (double)Completed;
    public double ReadsPerCompletion => Completed == 0 ? double.NaN : (StatusRequests + OtherReads) / (double)Completed;
}

/// <summary>
/// One way of asking for the same contacts (a provider alone, a waterfall, …) over one population: what it found and
/// what the providers charged for it.
/// </summary>
/// <param name="UnionFields">The fields the population lets this variant's providers find together: what it could find at best.</param>
public sealed record WaterfallCostResult(string Variant, string Order, int Leads, int Completed, int FieldsAsked, int RequestsFound, int FieldsFound,
    int UnionFields, decimal Credits, string CreditsBreakdown, double Seconds)
{
    public double FoundRate => Leads == 0 ? double.NaN : RequestsFound * 100.0 / Leads;
    public double FieldRate => FieldsAsked == 0 ? double.NaN : FieldsFound * 100.0 / FieldsAsked;
    public double UnionRate => FieldsAsked == 0 ? double.NaN : UnionFields * 100.0 / FieldsAsked;
    public double CreditsPerFoundContact => FieldsFound == 0 ? double.NaN : (double)Credits / FieldsFound;
}

public sealed record MemoryResult(int Outstanding, long PeakBytes, long CurrentBytes, long IdleBytes, double SecondsToSubmit);

public sealed record GoalResult(string Goal, string Target, string Figure, bool? Met, string? Why = null);

public sealed record BenchRun
{
    public required string StartedAt { get; init; }
    public required string Command { get; init; }
    public string? Commit { get; init; }
    public required int Cores { get; init; }
    public required string LoadBefore { get; init; }
    public string? LoadAfter { get; set; }
    public double? DurationSeconds { get; set; }
    public List<EndToEndResult> EndToEnd { get; } = [];
    public List<WebhookResult> Webhooks { get; } = [];
    public List<BatchFillResult> BatchFill { get; } = [];
    public List<PollCostResult> PollCost { get; } = [];
    public List<MemoryResult> Memory { get; } = [];
    public List<WaterfallCostResult> WaterfallCost { get; } = [];
    public Durability? WaterfallDurability { get; set; }
    /// <summary>The ledger durability of the batch fill and poll cost run, and of the memory run.</summary>
    public Durability? BatchDurability { get; set; }
    public Durability? MemoryDurability { get; set; }
    public Dictionary<string, IReadOnlyDictionary<string, string>> Settings { get; } = [];
    public List<string> Notes { get; } = [];
    public List<GoalResult> Goals { get; } = [];
}
