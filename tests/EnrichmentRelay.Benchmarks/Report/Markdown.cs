using System.Globalization;
using System.Text;

namespace EnrichmentRelay.Benchmarks.Report;

/// <summary>The run as markdown tables, ready to paste into docs/performance.md.</summary>
public static class Markdown
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(BenchRun run)
    {
        var md = new StringBuilder();
        md.AppendLine($"Measured {run.StartedAt} on {run.Cores} cores (load average before: {run.LoadBefore}; after: {run.LoadAfter ?? "?"})" +
                      (run.Commit is null ? "" : $", commit `{run.Commit}`") +
                      (run.DurationSeconds is { } d ? $", {d / 60:0.0} min" : "") + $", with `{run.Command}`.");
        md.AppendLine();
        // Durability as each run's database reported it; the goals count durable figures only.
        var judged = run.EndToEnd.Where(r => r.System == "relay" && r.Label is null).Select(r => r.Durability)
            .Concat(run.Webhooks.Where(w => w.IsRelay).Select(w => w.Durability))
            .Concat([run.BatchDurability, run.MemoryDurability, run.WaterfallDurability]).Where(d => d is not null).Distinct().ToList();
        if (judged.Count > 0)
            md.AppendLine(judged.All(d => d!.Durable)
                ? $"Durability: every relay figure ran on durable storage, as the database reported it during the run ({string.Join("; ", judged)}); the broker keeps durable queues, persistent messages, publisher confirms. An fsync-off run, if any, is an extra line marked as such."
                : $"Durability: **not every relay figure ran on durable storage** ({string.Join("; ", judged)}); those figures meet no goal.");
        md.AppendLine();

        if (run.Goals.Count > 0)
        {
            md.AppendLine("**Goals**");
            md.AppendLine();
            md.AppendLine("| goal | target | measured | met |");
            md.AppendLine("|---|---|---|---|");
            foreach (var g in run.Goals)
                md.AppendLine($"| {g.Goal} | {g.Target} | {g.Figure} | {(g.Met is null ? "n/a" : g.Met.Value ? "yes" : "**no**")}{(g.Why is null ? "" : $" ({g.Why})")} |");
            md.AppendLine();
        }

        if (run.EndToEnd.Count > 0)
        {
            md.AppendLine("**1. End to end** (publish `EnrichmentRequested` → `EnrichmentCompleted` received; baseline: bare RabbitMQ.Client consume → republish → ack, same broker, same sizes, run right after; flat out, the relay's figure and the baseline's are each the median of several runs (each run's rate in its notes)" +
                          "; each run measured after a warm-up, not counted: rounds of flat-out requests as large as a flat-out run until the relays' JIT is quiet " +
                          "(see each run's notes), a SQLite ledger emptied before each measured run, so each starts on an empty ledger, " +
                          "the baseline as many requests as the relay run before it; machine CPU (flat out): the cores' busy time per request while measured, " +
                          "by process (/proc), the driver with the provider sandbox in the relay's runs, the rest being the kernel's own work and other processes" +
                          string.Concat(run.EndToEnd.Select(r => r.Jit).OfType<string>().Distinct().Select(jit => $"; relay runtime: {jit}")) + ")");
            md.AppendLine();
            md.AppendLine("| run | mode | durability | requests | completions/s | p50 ms | p95 ms | p99 ms | ratio (relay/baseline) | notes |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
            foreach (var r in run.EndToEnd)
            {
                var baseline = BaselineFor(run, r);
                var ratio = r.System == "relay" && baseline is not null
                    ? $"{F(r.CompletionsPerSecond / baseline.CompletionsPerSecond, "0.00")}× throughput, p95 +{F(r.Latency.P95 - baseline.Latency.P95, "N0")} ms"
                    : "";
                var notes = new List<string>();
                if (r.Missing > 0) notes.Add($"**{r.Missing} missing**");
                if (r.Duplicates > 0) notes.Add($"**{r.Duplicates} duplicate completions**");
                if (r.LeadsSubmittedTwice > 0) notes.Add($"**{r.LeadsSubmittedTwice} leads submitted twice**");
                // CPU per request is the figure a busy machine disturbs least.
                if (r.System == "relay") notes.Add($"{r.ProviderJobs} Precept jobs (largest {r.LargestJob}), {Sections.EndToEnd.RelayCpu(r)}");
                if (r.Runtime is { } runtime) notes.Add(Sections.EndToEnd.Runtime(runtime, r.Requests, r.CpuSeconds));
                else notes.Add($"republisher CPU {Sections.EndToEnd.PerRequest(r.CpuSeconds, r)} ms/request");
                if (r.MachineCpu is not null) notes.Add(Sections.EndToEnd.MachineShares(r));
                if (r.Note is not null) notes.Add(r.Note);
                notes.Add($"published {F(r.PublishedPerSecond, "N0")}/s; {F(r.RequestBytes, "N0")} B in, {F(r.CompletionBytes, "N0")} B out");
                notes.Add($"warm-up {r.WarmUpRequests:N0} requests" + (r.System == "relay" ? $" in {r.WarmUpRounds} round{(r.WarmUpRounds == 1 ? "" : "s")}" : ""));
                md.AppendLine($"| {Name(r)} | {r.Mode} | {Described(r.Durability)} | {r.Requests:N0} | {F(r.CompletionsPerSecond, "N0")} | {F(r.Latency.P50, "N0")} | {F(r.Latency.P95, "N0")} | " +
                              $"{F(r.Latency.P99, "N0")} | {ratio} | {string.Join("; ", notes)} |");
            }
            md.AppendLine();
            var instances = run.EndToEnd.Where(r => r.System == "relay" && r.Engine == "postgres" && r.PacedRate is null && r.Label is null).OrderBy(r => r.Instances).ToList();
            if (instances.Select(r => r.Instances).Distinct().Count() > 1)
            {
                md.AppendLine($"Relay instances on one PostgreSQL database and one virtual host (flat out; {Described(instances[0].Durability)}): " +
                              string.Join(", ", instances.Select(r => $"{r.Instances} → {F(r.CompletionsPerSecond, "N0")}/s" +
                                                                      (r.Missing + r.Duplicates + r.LeadsSubmittedTwice > 0
                                                                          ? $" ({r.Missing} missing, {r.Duplicates} duplicates, {r.LeadsSubmittedTwice} leads submitted twice)" : ""))) + ".");
                md.AppendLine();
                md.AppendLine("Claim contention (rows the instances claimed per second of the measured run, and rows a claim that came back short passed over, up to its size, " +
                              "because another instance held them locked, `FOR UPDATE SKIP LOCKED`, or they arrived meanwhile; a row passed over by " +
                              "several claims counts each time): " +
                              string.Join("; ", instances.Where(r => r.Claims.Count > 0).Select(r => $"{r.Instances} instance{(r.Instances > 1 ? "s" : "")}: " +
                                  string.Join(", ", r.Claims.OrderBy(c => c.Key).Select(c =>
                                      $"{c.Key} {F(c.Value.Claimed / (r.Requests / r.CompletionsPerSecond), "N0")}/s, {F(c.Value.PassedOver, "N0")} passed over")))) + ".");
                md.AppendLine();
            }
        }

        if (run.Webhooks.Count > 0)
        {
            md.AppendLine("**2. Webhook ingest** (Precept callbacks to `POST /webhooks/precept/{token}` of jobs the sandbox holds open (`HoldJobsOpen`: " +
                          "Precept reports them running), so each is stored before its 202, verified, and applies nothing; floor: bare Kestrel " +
                          "appending each body to one file with an fsync per body; for context, bare Kestrel storing nothing; same bodies and clients, " +
                          "measured per engine right before the relay. \"ran\": what the section ran after in this run)");
            md.AppendLine();
            md.AppendLine("| callbacks | target | mode | ran | durability | callbacks/s | ack p50 ms | ack p99 ms | failed | ratio (relay/fsync floor; relay/no store) |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
            foreach (var w in run.Webhooks)
            {
                var ratio = w.IsRelay && BareBeside(run, w, WebhookResult.BareFsync) is { } floor
                    ? $"{F(w.CallbacksPerSecond / floor.CallbacksPerSecond, "0.00")}× rate, p99 {F(w.Ack.P99 / floor.Ack.P99, "0.0")}×" +
                      (BareBeside(run, w, WebhookResult.BareNoStore) is { } bare ? $"; {F(w.CallbacksPerSecond / bare.CallbacksPerSecond, "0.00")}× rate" : "")
                    : "";
                var failed = w.Failures.Count == 0 ? $"{w.Failed}" : $"**{w.Failed}** ({string.Join(", ", w.Failures.Select(f => $"{f.Value} × {f.Key}"))})";
                md.AppendLine($"| {w.Shape}, {F(w.BodyBytes, "N0")} B | {w.Target} | {w.Mode}, {F(w.Callbacks, "N0")} posts | {w.Ran} | {Described(w.Durability)} | {F(w.CallbacksPerSecond, "N0")} | " +
                              $"{F(w.Ack.P50, "0.0")} | {F(w.Ack.P99, "0.0")} | {failed} | {ratio} |");
            }
            md.AppendLine();
        }

        if (run.BatchFill.Count > 0)
        {
            md.AppendLine($"**3. Batch fill** (1,000 leads per provider in one burst, default `BatchSize` and `FlushWindow`; {Described(run.BatchDurability)})");
            md.AppendLine();
            md.AppendLine("| provider | limit per call | submit calls per 1,000 leads | ideal | largest call | fill |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach (var b in run.BatchFill)
                md.AppendLine($"| {b.Provider} | {b.Limit:N0} | {F(b.CallsPer1000, "0.#")} | {F(b.IdealPer1000, "0.#")} | {b.LargestCall:N0} | {F(b.FillPercent, "0")}% |");
            md.AppendLine();
        }

        if (run.PollCost.Count > 0)
        {
            md.AppendLine($"**4. Poll cost** (requests other than submits, per completed request; same run as 3, poll tick 1 s; {Described(run.BatchDurability)})");
            md.AppendLine();
            md.AppendLine("| provider | completed | status requests | per completion | all reads per completion | breakdown |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach (var p in run.PollCost)
                md.AppendLine($"| {p.Provider} | {p.Completed:N0} | {p.StatusRequests:N0} | {F(p.StatusPerCompletion, "0.000")} | {F(p.ReadsPerCompletion, "0.000")} | {p.Breakdown} |");
            md.AppendLine();
        }

        if (run.Memory.Count > 0)
        {
            md.AppendLine($"**5. Memory** (relay process, requests submitted to Precept and not completed; {Described(run.MemoryDurability)})");
            md.AppendLine();
            md.AppendLine("| outstanding | peak working set (VmHWM) | working set now | idle before | growth over idle |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var m in run.Memory)
                md.AppendLine($"| {m.Outstanding:N0} | {Mb(m.PeakBytes)} | {Mb(m.CurrentBytes)} | {Mb(m.IdleBytes)} | {Mb(m.PeakBytes - m.IdleBytes)} |");
            md.AppendLine();
        }

        if (run.WaterfallCost.Count > 0)
        {
            md.AppendLine($"**6. Waterfall cost** (the same {run.WaterfallCost[0].Leads:N0} leads × email + phone for each variant, each on a fresh relay " +
                          $"and sandbox; population: Lance finds 50%, Precept 60% of the (lead, field) pairs, independently; credits as the sandbox " +
                          $"charged them; {Described(run.WaterfallDurability)})");
            md.AppendLine();
            md.AppendLine("| variant | order | requests found | contacts found | population allows | credits | credits per found contact | by provider | time |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var w in run.WaterfallCost)
                md.AppendLine($"| {w.Variant} | {w.Order} | {F(w.FoundRate, "0.0")}% | {w.FieldsFound:N0} of {w.FieldsAsked:N0} ({F(w.FieldRate, "0.0")}%) | " +
                              $"{w.UnionFields:N0} ({F(w.UnionRate, "0.0")}%) | {w.Credits:N1} | {F(w.CreditsPerFoundContact, "0.00")} | {w.CreditsBreakdown} | " +
                              $"{F(w.Seconds, "0.0")} s |");
            md.AppendLine();
        }

        if (run.Settings.Count > 0)
        {
            md.AppendLine("**Settings** (everything else is the relay's default; the sandbox has no artificial latency and sends no duplicate webhooks)");
            md.AppendLine();
            foreach (var (name, settings) in run.Settings)
                md.AppendLine($"- {name}: {(settings.Count == 0 ? "defaults" : string.Join(", ", settings.Select(s => $"`{s.Key}={s.Value}`")))}");
            md.AppendLine();
        }
        foreach (var note in run.Notes)
            md.AppendLine($"- {note}");
        return md.ToString();
    }

    public static EndToEndResult? BaselineFor(BenchRun run, EndToEndResult relay) =>
        // The baseline run right after this relay run, with the same rate and count.
        run.EndToEnd.FirstOrDefault(b => b.System == "baseline" && b.PacedRate == relay.PacedRate && b.Requests == relay.Requests
                                         && run.EndToEnd.IndexOf(b) > run.EndToEnd.IndexOf(relay))
        ?? run.EndToEnd.LastOrDefault(b => b.System == "baseline" && b.PacedRate == relay.PacedRate);

    /// <summary>
    /// The bare endpoint's row measured beside a relay row: each engine's run has its own bare endpoints, measured right
    /// before the relay, so it is the last row of that kind before it with the same shape, rate and clients.
    /// </summary>
    public static WebhookResult? BareBeside(BenchRun run, WebhookResult relay, string bare) =>
        run.Webhooks.Take(run.Webhooks.IndexOf(relay))
            .LastOrDefault(b => b.Target == bare && b.Shape == relay.Shape && b.PacedRate == relay.PacedRate && b.Clients == relay.Clients);

    static string Name(EndToEndResult r) => r.System == "baseline" ? "baseline"
        : $"relay, {r.Engine}" + (r.Instances > 1 ? $", {r.Instances} instances" : "") + (r.Label is null ? "" : $", **{r.Label}**");

    static string Described(Durability? durability) => durability is null ? "not measured"
        : durability.Durable || durability == Durability.Nothing ? durability.Description : $"{durability.Description} (**not durable**)";

    public static string Mb(long bytes) => $"{bytes / 1048576.0:N0} MB";

    public static string F(double value, string format) => double.IsNaN(value) || double.IsInfinity(value) ? "–" : value.ToString(format, Invariant);
}
