using System.Diagnostics;
using System.Globalization;
using EnrichmentRelay.Benchmarks.Baselines;
using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Benchmarks.Sections;

/// <summary>
/// Section 1 (and issue #8's 1 vs 3 instances): requests published to the broker, completions received from it,
/// through the relay and through the bare chain, one right after the other so each ratio is measured side by side.
/// </summary>
public sealed class EndToEnd(BenchEnvironment env, BenchOptions options, Action<string> say)
{
    // Without a measured relay completion yet: about the size of one (MassTransit envelope, two contacts, correlation data).
    double completionBytes = 1500;

    // The warm-up of the last relay run: the bare chain after it is warmed as long, so neither is measured cold.
    int lastWarmUp;

    readonly MachineCpu machine = MachineCpu.FromEnvironment();

    /// <summary>Settings of a flat-out run: the relay's defaults (BatchSize 1,000, FlushWindow 2 s).</summary>
    public static IReadOnlyDictionary<string, string> FlatOutSettings => new Dictionary<string, string>();

    /// <summary>
    /// Settings of a paced (latency) run: a short Precept FlushWindow, which is what a deployment that cares about
    /// latency would choose; at the paced rate a job still holds a few hundred leads.
    /// </summary>
    public static IReadOnlyDictionary<string, string> PacedSettings => new Dictionary<string, string>
    {
        ["Providers__Precept__FlushWindow"] = "00:00:00.250",
    };

    public async Task<EndToEndResult> RelayAsync(Engine engine, int requests, double? rate, int instances = 1)
    {
        var name = $"relay-{engine.ToString().ToLowerInvariant()}-{(rate is null ? "flat" : $"paced{rate:0}")}{(instances > 1 ? $"-x{instances}" : "")}";
        say($"{name}: {requests:N0} requests{(instances > 1 ? $", {instances} instances" : "")}");
        var settings = rate is null ? FlatOutSettings : PacedSettings;
        var vhost = await env.NewVirtualHostAsync("e2e");
        var database = await env.NewDatabaseAsync(engine);
        var sandbox = await StartSandboxAsync();
        try
        {
            await using var relays = await RelayCluster.StartAsync(name, env, vhost, database, sandbox, settings, instances);
            await using var listener = await CompletionListener.StartAsync(env.Broker(vhost), CompletionListener.RelayExchange);
            var factory = env.Broker(vhost);
            var durability = await database.DurabilityAsync();

            var (warmUp, rounds) = await WarmUpAsync(relays, factory, listener, instances);
            completionBytes = listener.AverageBodyBytes;
            lastWarmUp = warmUp;

            // Flat out, a relay's rate and CPU per request vary from run to run (the 3-instance growth came out +4% and
            // +26% in two full runs): the figure is the median of several measured runs, all of them shown.
            var runs = new List<EndToEndResult>();
            for (var round = 0; round < (rate is null ? options.RelayRuns : 1); round++)
            {
                await database.EmptyAsync();
                // Leads of their own: the warm-up's and earlier runs' are in the identity cache.
                var measured = Enumerable.Range(warmUp + round * requests, requests).Select(BenchRequests.Precept).ToList();
                var cpuBefore = relays.CpuSeconds();
                var countersBefore = sandbox.Precept.Counters;
                var claimsBefore = await relays.ClaimsAsync();
                var runtimeBefore = await relays.RuntimeAsync();
                var run = await RunAsync(factory, "enrichment-requested", listener, measured, rate, name);
                var cpuAfter = relays.CpuSeconds();
                var claimsAfter = await relays.ClaimsAsync();
                var runtime = await relays.RuntimeAsync() - runtimeBefore;
                var counters = sandbox.Precept.Counters;
                runs.Add(Measured("relay", engine.ToString().ToLowerInvariant(), rate, measured, run, listener) with
                {
                    Instances = instances,
                    CpuSeconds = cpuAfter.Total - cpuBefore.Total,
                    KernelCpuSeconds = cpuAfter.Kernel - cpuBefore.Kernel,
                    ProviderJobs = counters.JobsCreated - countersBefore.JobsCreated,
                    LargestJob = counters.LargestJob,
                    LeadsSubmittedTwice = counters.LeadSubmissions.Values.Count(n => n > 1),
                    Claims = claimsAfter.ToDictionary(c => c.Key, c => new ClaimFigures(
                        c.Value.Claimed - claimsBefore.GetValueOrDefault(c.Key).Claimed, c.Value.PassedOver - claimsBefore.GetValueOrDefault(c.Key).PassedOver)),
                    Runtime = runtime,
                    Settings = settings,
                    Durability = durability,
                    WarmUpRequests = warmUp,
                    WarmUpRounds = rounds,
                    Jit = RelayJit.Describe(),
                });
            }
            var result = MedianRun(runs);
            Report(result);
            return result;
        }
        finally
        {
            await sandbox.DisposeAsync();
            await env.DeleteVirtualHostAsync(vhost);
            database.Delete();
        }
    }

    /// <summary>
    /// One flat-out PostgreSQL run with fsync off: what durability costs, shown beside the durable figures as an
    /// extra, labelled line and never judged against a goal. fsync is switched back on whatever happens.
    /// </summary>
    public async Task<EndToEndResult> RelayWithoutFsyncAsync(int requests)
    {
        await env.SetFsyncAsync(false);
        try
        {
            return await RelayAsync(Engine.Postgres, requests, null) with { Label = "fsync off: not durable, for comparison only" };
        }
        finally
        {
            await env.SetFsyncAsync(true);
        }
    }

    public async Task<EndToEndResult> BaselineAsync(int requests, double? rate)
    {
        var name = $"baseline-{(rate is null ? "flat" : $"paced{rate:0}")}";
        say($"{name}: {requests:N0} requests, replies of {completionBytes:0} bytes");
        var vhost = await env.NewVirtualHostAsync("base");
        try
        {
            await using var republisher = ChildProcess.Start(name, Binaries.Driver,
                ["republisher", "--host", env.RabbitHost, "--port", env.RabbitPort.ToString(), "--user", env.RabbitUser,
                 "--password", env.RabbitPassword, "--vhost", vhost, "--reply-bytes", ((int)completionBytes).ToString()],
                new Dictionary<string, string>(), Path.Combine(env.WorkDirectory, "logs"));
            await republisher.WaitForReadyLineAsync(TimeSpan.FromSeconds(60));
            await using var listener = await CompletionListener.StartAsync(env.Broker(vhost), Republisher.ReplyExchange);
            var factory = env.Broker(vhost);

            var warmUp = Math.Max(options.WarmUpRound, lastWarmUp);
            await RunAsync(factory, Republisher.RequestExchange, listener, Enumerable.Range(0, warmUp).Select(BenchRequests.Precept).ToList(), null, "warm-up");
            // Flat out, the bare chain's rate varies far more between runs than the relay's (5,300 to 12,000/s on 2 cores,
            // its CPU per message halving as it speeds up): the figure is the median of several runs, all of them shown.
            var runs = new List<EndToEndResult>();
            for (var n = 0; n < (rate is null ? options.BaselineRuns : 1); n++)
                runs.Add(await MeasureBaselineAsync(republisher, factory, listener, warmUp, warmUp + n * requests, requests, rate, name));
            var result = MedianRun(runs);
            Report(result);
            return result;
        }
        finally
        {
            await env.DeleteVirtualHostAsync(vhost);
        }
    }

    /// <summary>
    /// The run of median throughput, noting every run's in the order they ran (one run: itself); a relay's runs with their
    /// CPU per request too.
    /// </summary>
    public static EndToEndResult MedianRun(IReadOnlyList<EndToEndResult> runs)
    {
        var median = runs.OrderBy(r => r.CompletionsPerSecond).ElementAt(runs.Count / 2);
        if (runs.Count == 1)
            return median;
        var rates = runs.All(r => r.System == "relay")
            ? string.Join(", ", runs.Select(r => $"{Rate(r)}/s at {PerRequest(r.CpuSeconds, r)} ms (kernel {PerRequest(r.KernelCpuSeconds, r)})")) + " of relay CPU per request"
            : string.Join(", ", runs.Select(Rate)) + "/s";
        return median with { Note = $"median of {runs.Count} runs: {rates}" };

        static string Rate(EndToEndResult r) => r.CompletionsPerSecond.ToString("N0", CultureInfo.InvariantCulture);
    }

    async Task<EndToEndResult> MeasureBaselineAsync(ChildProcess republisher, RabbitMQ.Client.ConnectionFactory factory,
        CompletionListener listener, int warmUp, int first, int requests, double? rate, string name)
    {
        var measured = Enumerable.Range(first, requests).Select(BenchRequests.Precept).ToList();
        var cpuBefore = republisher.CpuTime().TotalSeconds;
        var run = await RunAsync(factory, Republisher.RequestExchange, listener, measured, rate, name);
        return Measured("baseline", "-", rate, measured, run, listener) with
        {
            CpuSeconds = republisher.CpuTime().TotalSeconds - cpuBefore,
            Durability = Durability.Broker,
            WarmUpRequests = warmUp,
        };
    }

    /// <summary>
    /// What the driver saw of a measured run, relay's or the bare chain's alike; the machine's CPU flat out only (its tick
    /// samples miss much of a paced run's short bursts, see <see cref="EndToEndResult.MachineCpu"/>).
    /// </summary>
    static EndToEndResult Measured(string system, string engine, double? rate, List<PublishedRequest> measured, MeasuredRun run,
        CompletionListener listener) => new()
    {
        System = system,
        Engine = engine,
        PacedRate = rate,
        Requests = measured.Count,
        Completed = run.Timeline.Distinct,
        Duplicates = run.Timeline.Duplicates,
        CompletionsPerSecond = run.Timeline.CompletionsPerSecond(),
        PublishedPerSecond = run.Timeline.PublishedPerSecond(run.PublishEnded),
        Latency = run.Timeline.Latency(),
        RequestBytes = measured.Average(r => r.Body.Length),
        CompletionBytes = listener.AverageBodyBytes,
        MachineCpu = rate is null ? run.Machine : null,
    };

    /// <summary>
    /// Flat-out rounds of <see cref="BenchOptions.WarmUpRound"/> requests until a round in which no instance's JIT
    /// compiled more than <see cref="BenchOptions.QuietJitMethods"/> methods, or <see cref="BenchOptions.MaxWarmUp"/> per
    /// instance has passed (each instance sees its share of the requests, so its code gets hot that much later): what is
    /// measured then is the relay as it runs, not its start. Returns the requests sent and the rounds.
    /// </summary>
    async Task<(int Requests, int Rounds)> WarmUpAsync(RelayCluster relays, RabbitMQ.Client.ConnectionFactory factory,
        CompletionListener listener, int instances)
    {
        var started = Stopwatch.StartNew();
        var sent = 0;
        var rounds = 0;
        var before = await relays.RuntimeAsync();
        while (true)
        {
            var round = Enumerable.Range(sent, options.WarmUpRound).Select(BenchRequests.Precept).ToList();
            await RunAsync(factory, "enrichment-requested", listener, round, null, "warm-up");
            sent += round.Count;
            rounds++;
            var after = await relays.RuntimeAsync();
            var compiled = (after - before).JitMethods;
            before = after;
            if (compiled <= options.QuietJitMethods * instances)
                return (sent, rounds);
            if (started.Elapsed >= options.MaxWarmUp * instances)
            {
                say($"  warm-up: the JIT still compiled {compiled:N0} methods in the last of {rounds} rounds ({sent:N0} requests); measuring anyway");
                return (sent, rounds);
            }
        }
    }

    /// <summary>A run's completions as they arrived, when its publishing ended, and the CPU the machine's parts used meanwhile.</summary>
    sealed record MeasuredRun(Timeline Timeline, long PublishEnded, CpuSample Machine);

    async Task<MeasuredRun> RunAsync(RabbitMQ.Client.ConnectionFactory factory, string exchange,
        CompletionListener listener, List<PublishedRequest> requests, double? rate, string what)
    {
        var timeline = new Timeline(requests);
        listener.Timeline = timeline;
        var machineBefore = machine.Sample();
        var publishEnded = await BrokerPublisher.PublishAsync(factory, exchange, requests, timeline, rate);
        var deadline = TimeSpan.FromSeconds(Math.Max(60, requests.Count / 100.0));
        if (!await timeline.WaitForAllAsync(deadline, options.StallLimit))
            say($"  {what}: only {timeline.Distinct:N0} of {requests.Count:N0} completions arrived (no progress for {options.StallLimit.TotalSeconds:0} s or past {deadline.TotalSeconds:0} s)");
        return new MeasuredRun(timeline, publishEnded, machine.Sample() - machineBefore);
    }

    /// <summary>A relay run's CPU per request, and how much of it the kernel spent (see <see cref="EndToEndResult.KernelCpuSeconds"/>).</summary>
    public static string RelayCpu(EndToEndResult r) =>
        $"relay CPU {PerRequest(r.CpuSeconds, r)} ms/request ({PerRequest(r.KernelCpuSeconds, r)} of it in the kernel)";

    /// <summary>Milliseconds per request of a run's CPU seconds, as every note prints them.</summary>
    public static string PerRequest(double seconds, EndToEndResult r) => (seconds * 1000 / r.Requests).ToString("0.00", CultureInfo.InvariantCulture);

    void Report(EndToEndResult r) =>
        say($"  [{r.Durability}] {r.CompletionsPerSecond:N0} completions/s (published {r.PublishedPerSecond:N0}/s), p50 {r.Latency.P50:N0} ms, p95 {r.Latency.P95:N0} ms, " +
            $"p99 {r.Latency.P99:N0} ms; {r.Completed:N0}/{r.Requests:N0} completed, {r.Duplicates} duplicates" +
            (r.System == "relay" ? $", {r.ProviderJobs} jobs (largest {r.LargestJob}), {RelayCpu(r)}" : $", CPU {PerRequest(r.CpuSeconds, r)} ms/request") +
            (r.Runtime is { } runtime ? $"; {Runtime(runtime, r.Requests, r.CpuSeconds)}" : "") +
            (r.MachineCpu is not null ? $"; {MachineShares(r)}" : "") +
            (r.Note is { } note ? $"; {note}" : "") +
            string.Concat(r.Claims.OrderBy(c => c.Key).Select(c => $"; {c.Key} rows claimed {c.Value.Claimed:N0}, passed over {c.Value.PassedOver:N0}")));

    /// <summary>
    /// Allocations per request, collections, the share of the relay's CPU time its collections paused it (wall time: a
    /// pause that waits for a core counts whole), and what the JIT still compiled while measured.
    /// </summary>
    public static string Runtime(RuntimeFigures runtime, int requests, double cpuSeconds) =>
        $"allocated {runtime.AllocatedBytes / requests / 1024:N1} KiB/request, GCs {runtime.Gen0:N0}/{runtime.Gen1:N0}/{runtime.Gen2:N0} (gen 0/1/2), " +
        $"paused {runtime.PauseSeconds * 1000 / requests:0.000} ms/request ({(cpuSeconds > 0 ? runtime.PauseSeconds / cpuSeconds : 0):P0} of its CPU time); " +
        $"JIT compiled {runtime.JitMethods:N0} methods ({runtime.JitSeconds:0.00} s)";

    /// <summary>
    /// The machine's busy CPU per request while measured, and its parts: the relay (or the republisher), the broker,
    /// PostgreSQL (its runs only), the driver (with the in-process sandbox in the relay's runs) and the rest (the kernel's
    /// own work, other processes).
    /// </summary>
    public static string MachineShares(EndToEndResult r)
    {
        var m = r.MachineCpu!;
        var parts = new List<(string Name, double Seconds)> { (r.System == "relay" ? "relay" : "republisher", r.CpuSeconds) };
        if (m.Broker is { } broker) parts.Add(("RabbitMQ", broker));
        if (r.Engine == "postgres" && m.Database is { } database) parts.Add(("PostgreSQL", database));
        parts.Add((r.System == "relay" ? "driver and sandbox" : "driver", m.Driver));
        parts.Add(("rest", Math.Max(0, m.Machine - parts.Sum(p => p.Seconds))));
        return $"machine CPU {PerRequest(m.Machine, r)} ms/request ({string.Join(", ", parts.Select(p => $"{p.Name} {PerRequest(p.Seconds, r)}"))})";
    }

    /// <summary>The providers with no artificial latency and no duplicate webhooks, so what is measured is the relay.</summary>
    public static async Task<SandboxServer> StartSandboxAsync(Action<SandboxServer>? arrange = null)
    {
        var sandbox = await SandboxServer.StartAsync(RelayCluster.SandboxOptions);
        sandbox.Precept.Settings.ProcessingDelay = TimeSpan.Zero;
        sandbox.Precept.Settings.ProcessingJitter = TimeSpan.Zero;
        sandbox.Precept.Settings.DuplicateDeliveries = 0;
        sandbox.Precept.Settings.Credits = 1_000_000_000;
        sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.Zero;
        sandbox.Woodpecker.Settings.Credits = 1_000_000_000;
        sandbox.Lance.Settings.ProcessingDelay = TimeSpan.Zero;
        sandbox.Lance.Settings.Credits = 1_000_000_000;
        arrange?.Invoke(sandbox);
        return sandbox;
    }
}
