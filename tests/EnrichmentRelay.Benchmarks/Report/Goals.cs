namespace EnrichmentRelay.Benchmarks.Report;

/// <summary>
/// The goals of issues #7 and #18 for this 2-core machine, each judged from the run's own figures. A figure counts only if its
/// storage was durable (issue #18): one measured with fsync off, say, is shown but never meets a goal.
/// </summary>
public static class Goals
{
    const double WebhookFloorRatio = 0.5;
    const double WebhookAckP99Ms = 25;
    const double ChainRatio = 0.5;
    const double RelayCpuMs = 0.35;
    const double InstancesCpuGrowth = 0.20;

    public static void Evaluate(BenchRun run, BenchOptions options)
    {
        foreach (var (engine, goal) in new[] { ("postgres", options.PostgresGoal), ("sqlite", options.SqliteGoal) })
        {
            if (FlatOut(run, engine, single: true) is { } flat)
                run.Goals.Add(new GoalResult($"end-to-end throughput, {engine}", $"≥ {goal:N0} requests/s",
                    $"{Markdown.F(flat.CompletionsPerSecond, "N0")}/s ({Described(flat.Durability)})",
                    flat.CompletionsPerSecond >= goal && flat.Missing == 0 && IsDurable(flat.Durability), WhyNot(flat)));

            if (run.EndToEnd.FirstOrDefault(r => r.System == "relay" && r.Engine == engine && r.PacedRate is not null && r.Label is null) is { } paced
                && Markdown.BaselineFor(run, paced) is { } baseline)
            {
                var overhead = paced.Latency.P95 - baseline.Latency.P95;
                // Only meaningful if the relay kept up with the pace.
                var keptUp = paced.Missing == 0 && paced.CompletionsPerSecond >= 0.95 * paced.PacedRate!.Value;
                run.Goals.Add(new GoalResult($"relay p95 overhead at {paced.PacedRate:N0}/s, {engine}", "≤ 1,000 ms",
                    $"{Markdown.F(overhead, "N0")} ms (p95 {Markdown.F(paced.Latency.P95, "N0")} vs {Markdown.F(baseline.Latency.P95, "N0")} ms; {Described(paced.Durability)})",
                    overhead <= 1000 && keptUp && IsDurable(paced.Durability),
                    Reasons(keptUp ? null : $"kept up at {Markdown.F(paced.CompletionsPerSecond, "N0")}/s", NotDurable(paced.Durability))));
            }
        }

        // Issue #18: flat out against the bare chain run right after it, the relay's CPU per request, and the CPU per request of
        // several instances against one's.
        foreach (var engine in new[] { "postgres", "sqlite" })
        {
            if (FlatOut(run, engine, single: true) is not { } flat)
                continue;
            if (Markdown.BaselineFor(run, flat) is { } chain)
            {
                var ratio = flat.CompletionsPerSecond / chain.CompletionsPerSecond;
                run.Goals.Add(new GoalResult($"flat-out throughput against the bare chain, {engine}", $"≥ {ChainRatio:0.0}× the chain",
                    $"{Markdown.F(ratio, "0.00")}× ({Markdown.F(flat.CompletionsPerSecond, "N0")} vs {Markdown.F(chain.CompletionsPerSecond, "N0")}/s; {Described(flat.Durability)})",
                    ratio >= ChainRatio && flat.Missing == 0 && IsDurable(flat.Durability), WhyNot(flat)));
            }
            run.Goals.Add(new GoalResult($"relay CPU per request flat out, {engine}", $"≤ {RelayCpuMs:0.00} ms",
                $"{Markdown.F(CpuPerRequest(flat), "0.00")} ms ({Described(flat.Durability)})",
                CpuPerRequest(flat) <= RelayCpuMs && IsDurable(flat.Durability), NotDurable(flat.Durability)));
            if (FlatOut(run, engine, single: false) is { } several)
            {
                var growth = CpuPerRequest(several) / CpuPerRequest(flat) - 1;
                run.Goals.Add(new GoalResult($"relay CPU per request, {several.Instances} instances against 1, {engine}", $"≤ +{InstancesCpuGrowth:0%}",
                    $"{Markdown.F(growth, "+0%;-0%")} ({Markdown.F(CpuPerRequest(several), "0.00")} vs {Markdown.F(CpuPerRequest(flat), "0.00")} ms; {Described(several.Durability)})",
                    growth <= InstancesCpuGrowth && several.Missing == 0 && IsDurable(several.Durability), WhyNot(several)));
            }
        }

        // Issue #18: ingest flat out against the fsync-per-body floor measured beside it, and the ack p99 at the paced rate.
        foreach (var w in run.Webhooks.Where(w => w.IsRelay))
        {
            var engine = w.Target["relay, ".Length..];
            if (w.PacedRate is null)
            {
                if (Markdown.BareBeside(run, w, WebhookResult.BareFsync) is not { } floor)
                    continue;
                var ratio = w.CallbacksPerSecond / floor.CallbacksPerSecond;
                run.Goals.Add(new GoalResult($"webhook ingest flat out, {w.Shape}, {engine}, {w.Ran}", $"≥ {WebhookFloorRatio:0.0}× the fsync-per-body floor",
                    $"{Markdown.F(ratio, "0.00")}× ({Markdown.F(w.CallbacksPerSecond, "N0")} vs {Markdown.F(floor.CallbacksPerSecond, "N0")} callbacks/s; {Described(w.Durability)})",
                    ratio >= WebhookFloorRatio && w.Failed == 0 && floor.Failed == 0 && IsDurable(w.Durability),
                    Reasons(w.Failed > 0 ? $"{w.Failed} failed" : null, floor.Failed > 0 ? $"{floor.Failed} failed at the floor" : null, NotDurable(w.Durability))));
            }
            else
            {
                var keptUp = w.CallbacksPerSecond >= 0.95 * w.PacedRate.Value;
                run.Goals.Add(new GoalResult($"webhook ack p99 at {w.PacedRate:N0}/s, {w.Shape}, {engine}, {w.Ran}", $"≤ {WebhookAckP99Ms:0} ms",
                    $"{Markdown.F(w.Ack.P99, "0.0")} ms ({Markdown.F(w.CallbacksPerSecond, "N0")}/s achieved; {Described(w.Durability)})",
                    w.Ack.P99 <= WebhookAckP99Ms && w.Failed == 0 && keptUp && IsDurable(w.Durability),
                    Reasons(w.Failed > 0 ? $"{w.Failed} failed" : null, keptUp ? null : "fell behind the pace", NotDurable(w.Durability))));
            }
        }

        foreach (var fill in run.BatchFill)
            run.Goals.Add(new GoalResult($"batch fill, {fill.Provider}", "≥ 98% of ideal",
                $"{Markdown.F(fill.FillPercent, "0")}% ({fill.SubmitCalls} calls, ideal {fill.IdealCalls:0})", fill.FillPercent >= 98));

        if (run.Memory.Count > 0)
        {
            var largest = run.Memory.MaxBy(m => m.Outstanding)!;
            var smallest = run.Memory.MinBy(m => m.Outstanding)!;
            run.Goals.Add(new GoalResult($"peak memory at {largest.Outstanding:N0} outstanding", "≤ 400 MB",
                Markdown.Mb(largest.PeakBytes), largest.PeakBytes <= 400L * 1024 * 1024));
            if (largest != smallest)
            {
                var countRatio = largest.Outstanding / (double)smallest.Outstanding;
                var growthRatio = (largest.PeakBytes - largest.IdleBytes) / (double)Math.Max(1, smallest.PeakBytes - smallest.IdleBytes);
                run.Goals.Add(new GoalResult("memory grows sub-linearly", $"growth over idle < {countRatio:0}× for {countRatio:0}× the requests",
                    $"{Markdown.F(growthRatio, "0.0")}× ({Markdown.Mb(smallest.PeakBytes - smallest.IdleBytes)} → {Markdown.Mb(largest.PeakBytes - largest.IdleBytes)})",
                    growthRatio < countRatio));
            }
        }
    }

    static EndToEndResult? FlatOut(BenchRun run, string engine, bool single) =>
        run.EndToEnd.FirstOrDefault(r => r.System == "relay" && r.Engine == engine && r.PacedRate is null && r.Label is null && (r.Instances == 1) == single);

    static double CpuPerRequest(EndToEndResult run) => run.CpuSeconds * 1000 / run.Requests;

    /// <summary>Why a flat-out run meets no goal whatever its figure: requests missing, or storage not durable.</summary>
    static string? WhyNot(EndToEndResult run) => Reasons(run.Missing > 0 ? $"{run.Missing} missing" : null, NotDurable(run.Durability));

    static bool IsDurable(Durability? durability) => durability is { Durable: true };

    static string Described(Durability? durability) => durability?.Description ?? "durability not measured";

    static string? NotDurable(Durability? durability) => IsDurable(durability) ? null : "not durable";

    static string? Reasons(params string?[] reasons) => reasons.Any(r => r is not null) ? string.Join("; ", reasons.OfType<string>()) : null;
}
