using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Report;
using EnrichmentRelay.Benchmarks.Sections;

namespace EnrichmentRelay.Benchmarks;

/// <summary>Runs the chosen sections in order, then prints the markdown report and writes it, with the JSON, to the output directory.</summary>
public static class LoadDriver
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        var started = Stopwatch.GetTimestamp();
        var output = Path.GetFullPath(options.OutputDirectory);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss");
        var work = Path.Combine(output, "work-" + stamp);
        Directory.CreateDirectory(work);
        var env = BenchEnvironment.FromEnvironment(work);
        var run = new BenchRun
        {
            StartedAt = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"),
            Command = Environment.GetEnvironmentVariable("BENCH_COMMAND") ?? "infra/bench.sh",
            Commit = Environment.GetEnvironmentVariable("BENCH_COMMIT"),
            Cores = Environment.ProcessorCount,
            LoadBefore = LoadAverage(),
        };
        run.Settings["PostgreSQL server (as it reports them)"] = await env.PostgresSettingsAsync();
        void Say(string line) => Console.Error.WriteLine($"[{Stopwatch.GetElapsedTime(started).TotalSeconds,5:0}s] {line}");

        var e2e = new EndToEnd(env, options, Say);
        var failed = false;
        var before = new List<string>();
        foreach (var section in options.Sections)
        {
            try
            {
                switch (section)
                {
                    case "e2e-sqlite":
                    case "e2e-postgres":
                    {
                        var engine = section == "e2e-sqlite" ? Engine.Sqlite : Engine.Postgres;
                        var goal = engine == Engine.Sqlite ? options.SqliteGoal : options.PostgresGoal;
                        run.EndToEnd.Add(await e2e.RelayAsync(engine, options.Requests, null));
                        run.EndToEnd.Add(await e2e.BaselineAsync(options.Requests, null));
                        var paced = (int)(goal * options.PacedSeconds);
                        run.EndToEnd.Add(await e2e.RelayAsync(engine, paced, goal));
                        run.EndToEnd.Add(await e2e.BaselineAsync(paced, goal));
                        run.Settings["end to end, flat out"] = EndToEnd.FlatOutSettings;
                        run.Settings["end to end, paced (latency)"] = EndToEnd.PacedSettings;
                        break;
                    }
                    case "relay-sqlite":
                    case "relay-postgres":
                        // One flat-out relay run and nothing else: for profiling (attach dotnet-trace to the relay).
                        run.EndToEnd.Add(await e2e.RelayAsync(section == "relay-sqlite" ? Engine.Sqlite : Engine.Postgres, options.Requests, null));
                        break;
                    case "e2e-postgres-fsync-off":
                        run.EndToEnd.Add(await e2e.RelayWithoutFsyncAsync(options.Requests));
                        break;
                    case "instances":
                        if (!run.EndToEnd.Any(r => r.System == "relay" && r.Engine == "postgres" && r.PacedRate is null && r.Instances == 1 && r.Label is null))
                            run.EndToEnd.Add(await e2e.RelayAsync(Engine.Postgres, options.Requests, null));
                        run.EndToEnd.Add(await e2e.RelayAsync(Engine.Postgres, options.Requests, null, options.Instances));
                        run.EndToEnd.Add(await e2e.BaselineAsync(options.Requests, null));
                        break;
                    case "webhook":
                    {
                        var ran = RanAfter(before);
                        if (before.Count > 0)
                            run.Notes.Add($"Webhook ingest ran {ran} in this run (sections before it: {string.Join(", ", before)}).");
                        // The relays of earlier sections are gone, but not what their services left for the disk to write.
                        var settling = Stopwatch.GetTimestamp();
                        var dirty = await env.SettleDiskAsync();
                        run.Notes.Add($"Before webhook ingest the bench wrote back what the kernel held dirty ({dirty:N0} MB; PostgreSQL checkpoint, then sync) " +
                                      $"in {Stopwatch.GetElapsedTime(settling).TotalSeconds:0.0} s: another section's data written back in the middle of a paced run stalled the acks.");
                        // One engine's refused callbacks fail the section, after the other engine has been measured too.
                        var refused = new List<Exception>();
                        foreach (var engine in options.WebhookEngines)
                        {
                            run.Settings[$"webhook ingest ({engine})"] = WebhookIngest.Settings;
                            try
                            {
                                await new WebhookIngest(env, options, run, ran, Say).RunAsync(engine);
                            }
                            catch (Exception ex)
                            {
                                refused.Add(ex);
                            }
                        }
                        if (refused.Count == 1)
                            ExceptionDispatchInfo.Throw(refused[0]);
                        if (refused.Count > 1)
                            throw new AggregateException(refused);
                        break;
                    }
                    case "batch":
                        await new BatchFillAndPollCost(env, options, run, Say).RunAsync(options.BatchEngine);
                        run.Settings[$"batch fill and poll cost ({options.BatchEngine})"] = BatchFillAndPollCost.Settings;
                        break;
                    case "waterfall":
                        await new WaterfallCost(env, options, run, Say).RunAsync(options.WaterfallEngine);
                        break;
                    case "memory":
                        await new Sections.Memory(env, run, Say).RunAsync(options.MemoryEngine, options.MemorySteps);
                        run.Settings[$"memory ({options.MemoryEngine}; Precept sandbox takes 1 h per job)"] = Sections.Memory.Settings;
                        break;
                    default:
                        throw new ArgumentException($"Unknown section '{section}'; known: {string.Join(", ", BenchOptions.AllSections)}");
                }
            }
            catch (Exception ex) when (ex is not ArgumentException)
            {
                failed = true;
                Say($"section {section} failed: {ex}");
                run.Notes.Add($"Section {section} failed: {ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
            }
            before.Add(section);
        }

        run.LoadAfter = LoadAverage();
        run.DurationSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Goals.Evaluate(run, options);
        var markdown = Markdown.Render(run);
        var json = JsonSerializer.Serialize(run, new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        });
        foreach (var name in new[] { $"bench-{stamp}", "latest" })
        {
            await File.WriteAllTextAsync(Path.Combine(output, name + ".json"), json);
            await File.WriteAllTextAsync(Path.Combine(output, name + ".md"), markdown);
        }
        Console.WriteLine(markdown);
        Say($"results: {Path.Combine(output, $"bench-{stamp}.json")} and .md; relay logs in {Path.Combine(work, "logs")}");
        return failed ? 1 : 0;
    }

    static readonly string[] EndToEndLoad = ["e2e-sqlite", "e2e-postgres", "instances", "e2e-postgres-fsync-off", "relay-sqlite", "relay-postgres"];

    /// <summary>
    /// What a section ran after in this run, for its figures: "alone" when first, "after e2e load" right after an
    /// end-to-end section (whose leftover work can still load the machine), else after the section before it.
    /// </summary>
    static string RanAfter(List<string> before) =>
        before.Count == 0 ? "alone" : EndToEndLoad.Contains(before[^1]) ? "after e2e load" : $"after {before[^1]}";

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
