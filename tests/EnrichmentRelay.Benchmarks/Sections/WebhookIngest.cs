using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EnrichmentRelay.Benchmarks.Baselines;
using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;
using EnrichmentRelay.Sandbox.Precept;

namespace EnrichmentRelay.Benchmarks.Sections;

/// <summary>
/// Section 2: Precept callbacks posted straight to the relay's webhook and, with the same bodies and clients, to two
/// bare Kestrel endpoints: one that appends each body to a file with an fsync per body (the floor the relay is judged
/// against) and one that stores nothing. The sandbox holds the jobs open (<see cref="PreceptSettings.HoldJobsOpen"/>):
/// their results are worked out, so the bodies are real, but Precept reports them still running, so the relay stores
/// every callback, verifies it, applies nothing and keeps the job open; every post is ingest and must get its 202.
/// Released afterwards, one final callback per job completes its requests, each exactly once.
/// </summary>
/// <param name="ran">What ran before this section in the same run ("alone", "after e2e load", ...), shown on each row.</param>
public sealed class WebhookIngest(BenchEnvironment env, BenchOptions options, BenchRun run, string ran, Action<string> say)
{
    const int Jobs = 50;
    const int LeadsPerJob = 100;
    /// <summary>
    /// Posts of the per-job flat-out run (the jobs' bodies in turn): about 3 s of the relay's. With 2,000 (1 s) its
    /// ratio to the floor swung from 0.38x to 0.66x between runs of the same code.
    /// </summary>
    const int PerJobFlatOut = 6_000;
    static readonly string PerJobShape = $"per job ({LeadsPerJob} leads)";

    public static IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        // Jobs of 100 leads, as the section asks.
        ["Providers__Precept__BatchSize"] = LeadsPerJob.ToString(),
        ["Providers__Precept__FlushWindow"] = "00:00:00.200",
        // The per-address limit (500/s by default) would refuse the flat-out runs: all clients here share 127.0.0.1.
        ["Providers__Precept__WebhookPermitsPerSecond"] = "100000",
        // The sweep reads jobs whose callback is overdue: one that read a job just released would complete it before its
        // final callback, which would then be refused as spent. The callbacks here are all the driver's.
        ["Providers__Precept__CallbackGrace"] = "01:00:00",
    };

    public async Task RunAsync(Engine engine)
    {
        var name = engine.ToString().ToLowerInvariant();
        say($"webhook ingest ({engine}, {ran}): {Jobs} Precept jobs of {LeadsPerJob} leads held open, callbacks posted by the driver");
        var vhost = await env.NewVirtualHostAsync("hook");
        var database = await env.NewDatabaseAsync(engine);
        var sandbox = await EndToEnd.StartSandboxAsync(s =>
        {
            // The driver posts the callbacks, with the bodies the sandbox would send; the sandbox sends none of its own.
            s.Precept.Settings.DropWebhooks = true;
            s.Precept.Settings.HoldJobsOpen = true;
        });
        var floorFile = Path.Combine(env.WorkDirectory, $"bare-webhook-fsync-{name}.jsonl");
        var measured = new List<WebhookResult>();
        var problems = new List<string>();
        try
        {
            // Measured from its start, the JIT's climb included: a warm-up's callbacks would stay in the ledger the measured
            // runs work on (tried: warm-up rounds until the JIT was quiet lowered the per-job figures; docs/performance.md).
            await using var relay = await RelayCluster.StartAsync($"relay-webhook-{name}", env, vhost, database, sandbox, Settings);
            await using var listener = await CompletionListener.StartAsync(env.Broker(vhost), CompletionListener.RelayExchange);
            var requests = Enumerable.Range(0, Jobs * LeadsPerJob).Select(BenchRequests.Precept).ToList();
            var timeline = new Timeline(requests);
            listener.Timeline = timeline;
            await BrokerPublisher.PublishAsync(env.Broker(vhost), "enrichment-requested", requests, null, null);
            var jobs = await WorkedOutAsync(sandbox.Precept, requests.Count);

            var perJob = jobs.Select(j => new Callback(j.WebhookUrl!, Body(new JsonObject
            {
                ["enrichment_id"] = j.EnrichmentId,
                ["status"] = "completed",
                ["results"] = new JsonArray(j.Results!.Select(r => (JsonNode)r.DeepClone()).ToArray()),
            }))).ToList();
            var streamed = jobs.SelectMany(j => j.Results!.Select(r => new Callback(j.WebhookUrl!, Body(new JsonObject
            {
                ["enrichment_id"] = j.EnrichmentId,
                ["results"] = new JsonArray(r.DeepClone()),
            })))).ToList();

            await using var bare = await BareEndpoint.StartAsync(env, $"bare-webhook-{name}", null);
            await using var floor = await BareEndpoint.StartAsync(env, $"bare-webhook-fsync-{name}", floorFile);
            var relayTarget = $"relay, {name}";
            var relayBase = relay.BaseAddresses[0];
            var durability = await database.DurabilityAsync();
            var targets = new[]
            {
                (Target: WebhookResult.BareNoStore, Base: bare.BaseAddress, Stored: Durability.Nothing),
                (Target: WebhookResult.BareFsync, Base: floor.BaseAddress, Stored: Durability.FsyncPerBody),
                (Target: relayTarget, Base: relayBase, Stored: durability),
            };

            foreach (var (shape, callbacks, flatCount) in new[]
                     {
                         ("streamed (1 lead)", streamed, streamed.Count),
                         (PerJobShape, perJob, PerJobFlatOut),
                     })
            {
                foreach (var (target, baseUrl, stored) in targets)
                {
                    var retargeted = callbacks.Select(c => c with { Url = Retarget(c.Url, baseUrl) }).ToList();
                    var isRelay = target == relayTarget;
                    var flat = await PostAsync(target, shape, retargeted, flatCount, options.WebhookClients, null) with { Durability = stored, Ran = ran };
                    Add(flat);
                    // The relay verifies what it stored after the 202: let it finish, so the paced run measures ingest, not this backlog.
                    if (isRelay)
                        await DrainAsync(database, "flat-out run");
                    Add(await PostAsync(target, shape, retargeted, (int)(options.WebhookRate * options.PacedSeconds), 64, options.WebhookRate)
                        with { Durability = stored, Ran = ran });
                    if (isRelay)
                        await DrainAsync(database, "paced run");
                }
            }
            if (timeline.Distinct > 0)
                problems.Add($"{timeline.Distinct} requests completed while their jobs were held open: what was measured was not ingest alone");

            // Released, Precept reports every job completed: one final callback per job, as Precept sends it, completes its requests.
            sandbox.Precept.Settings.HoldJobsOpen = false;
            var finals = await PostAsync($"{relayTarget}, final callbacks after release", PerJobShape,
                perJob.Select(c => c with { Url = Retarget(c.Url, relayBase) }).ToList(), perJob.Count, Math.Min(options.WebhookClients, perJob.Count), null);
            if (finals.Failures.Count > 0)
                problems.Add($"final callbacks after release: {Described(finals.Failures)}");
            await timeline.WaitForAllAsync(TimeSpan.FromSeconds(60), options.StallLimit);
            var check = $"Webhook ingest ({engine}, {ran}): the relay completed {timeline.Distinct:N0} of {requests.Count:N0} requests from the posted callbacks, " +
                        $"{timeline.Duplicates} duplicate completions.";
            say("  " + check);
            run.Notes.Add(check);
            if (timeline.Distinct < requests.Count || timeline.Duplicates > 0)
                problems.Add(check);
        }
        finally
        {
            await sandbox.DisposeAsync();
            await env.DeleteVirtualHostAsync(vhost);
            database.Delete();
            File.Delete(floorFile);
        }

        var relayRows = measured.Where(r => r.IsRelay).ToList();
        say($"  webhook ingest ({engine}): {relayRows.Sum(r => r.Failed)} of {relayRows.Sum(r => r.Callbacks):N0} measured posts to the relay failed" +
            $"{(relayRows.Any(r => r.Failures.Count > 0) ? $" ({Described(Sum(relayRows.Select(r => r.Failures)))})" : "")}; " +
            $"{measured.Where(r => !r.IsRelay).Sum(r => r.Failed)} to the bare endpoints");
        problems.AddRange(measured.Where(r => r.Failures.Count > 0).Select(r => $"{r.Target}, {r.Shape}, {r.Mode}: {Described(r.Failures)}"));
        if (problems.Count > 0)
            throw new InvalidOperationException($"Webhook ingest ({engine}): not every callback was answered 202 or completed once: {string.Join("; ", problems)}");

        void Add(WebhookResult result)
        {
            measured.Add(result);
            run.Webhooks.Add(result);
        }
    }

    /// <summary>Waits until the relay has submitted every lead and each job has worked out its results (held open, none reported ended).</summary>
    static async Task<IReadOnlyList<PreceptJobSnapshot>> WorkedOutAsync(PreceptSimulator precept, int leads)
    {
        var until = Stopwatch.GetTimestamp() + 120 * Stopwatch.Frequency;
        while (true)
        {
            var jobs = precept.Jobs;
            if (precept.Counters.LeadsAccepted >= leads && jobs.All(j => j.HeldOpen))
                return jobs;
            if (Stopwatch.GetTimestamp() > until)
                throw new TimeoutException($"The relay submitted {precept.Counters.LeadsAccepted} of {leads} leads; {jobs.Count(j => j.HeldOpen)} of {jobs.Count} jobs worked out");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Waits until the relay has applied every callback it stored (read the job back, found it running, applied
    /// nothing), so what comes next does not share the machine with this backlog; says how long that took.
    /// </summary>
    async Task DrainAsync(BenchDatabase database, string after)
    {
        var started = Stopwatch.GetTimestamp();
        var lastProgress = started;
        var last = -1L;
        long pending;
        while ((pending = await database.PendingCallbacksAsync()) > 0)
        {
            if (pending != last)
                (last, lastProgress) = (pending, Stopwatch.GetTimestamp());
            if (Stopwatch.GetElapsedTime(lastProgress) > options.StallLimit)
                throw new TimeoutException($"The relay left {pending} stored callbacks unapplied for {options.StallLimit.TotalSeconds:0} s");
            await Task.Delay(100);
        }
        say($"  the relay had applied every stored callback {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s after the {after}");
    }

    sealed record Callback(string Url, byte[] Body);

    /// <summary>A bare webhook baseline in a process of its own, like the relay.</summary>
    sealed class BareEndpoint(ChildProcess process, Uri baseAddress) : IAsyncDisposable
    {
        public Uri BaseAddress { get; } = baseAddress;

        public static async Task<BareEndpoint> StartAsync(BenchEnvironment env, string name, string? appendTo)
        {
            var baseAddress = new Uri($"http://127.0.0.1:{ChildProcess.FreePort()}/");
            string[] arguments = ["bare-webhook", "--urls", baseAddress.ToString().TrimEnd('/'), .. appendTo is null ? [] : new[] { $"--{BareWebhook.AppendTo}", appendTo }];
            var process = ChildProcess.Start(name, Binaries.Driver, arguments, new Dictionary<string, string>(), Path.Combine(env.WorkDirectory, "logs"));
            try
            {
                await process.WaitUntilReadyAsync(new Uri(baseAddress, "ready"), TimeSpan.FromSeconds(60));
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
            return new BareEndpoint(process, baseAddress);
        }

        public ValueTask DisposeAsync() => process.DisposeAsync();
    }

    static byte[] Body(JsonObject body) => Encoding.UTF8.GetBytes(body.ToJsonString());

    static string Retarget(string url, Uri baseUrl) => new Uri(baseUrl, new Uri(url).PathAndQuery).ToString();

    static string Described(IReadOnlyDictionary<string, int> failures) =>
        string.Join(", ", failures.OrderByDescending(f => f.Value).Select(f => $"{f.Value} × {f.Key}"));

    static Dictionary<string, int> Sum(IEnumerable<IReadOnlyDictionary<string, int>> failures) =>
        failures.SelectMany(f => f).GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.Sum(f => f.Value));

    /// <summary>
    /// Posts <paramref name="count"/> callbacks (cycling through the list). Flat out: <paramref name="clients"/> clients
    /// each posting the next as soon as the last is answered. Paced: callback i is due at start + i / rate and its
    /// acknowledgement time counts from then, so a backlog shows in the figures instead of hiding in the client.
    /// Anything but a 202 is a failure, recorded with its status code (or error).
    /// </summary>
    async Task<WebhookResult> PostAsync(string target, string shape, List<Callback> callbacks, int count, int clients, double? rate)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var failures = new ConcurrentDictionary<string, int>();
        void Fail(string what) => failures.AddOrUpdate(what, 1, (_, n) => n + 1);
        // Open the connections before measuring.
        foreach (var failure in await Task.WhenAll(Enumerable.Range(0, clients).Select(i => SendAsync(http, callbacks[i % callbacks.Count]))))
            if (failure is not null)
                Fail($"{failure} (warm-up)");

        var latencies = new double[count];
        var dueAt = new double[count];
        var failed = 0;
        var next = -1;
        var pausedBefore = GC.GetTotalPauseDuration();
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var due = rate is { } r ? start + (long)(i / r * Stopwatch.Frequency) : Stopwatch.GetTimestamp();
                double left;
                while ((left = (due - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency) > 0.5)
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, left - 0.5)));
                if (await SendAsync(http, callbacks[i % callbacks.Count]) is { } failure)
                {
                    Interlocked.Increment(ref failed);
                    Fail(failure);
                }
                latencies[i] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
                dueAt[i] = (due - start) / (double)Stopwatch.Frequency;
            }
        })));
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var paused = (GC.GetTotalPauseDuration() - pausedBefore).TotalMilliseconds;
        var ack = LatencySummary.Of(latencies);
        var slowest = Enumerable.Range(0, count).Where(i => latencies[i] >= ack.P99).Select(i => dueAt[i]).DefaultIfEmpty(0).ToList();
        var result = new WebhookResult
        {
            Target = target,
            Shape = shape,
            Clients = clients,
            PacedRate = rate,
            Callbacks = count,
            Failed = failed,
            Failures = new Dictionary<string, int>(failures),
            CallbacksPerSecond = count / elapsed,
            Ack = ack,
            BodyBytes = callbacks.Average(c => c.Body.Length),
            DriverPausedMs = paused,
            SlowestAcksDue = [slowest.Min(), slowest.Max()],
        };
        say($"  {target}, {shape}, {result.Mode}: {result.CallbacksPerSecond:N0} callbacks/s, ack p50 {result.Ack.P50:0.0} ms, " +
            $"p99 {result.Ack.P99:0.0} ms, {failed} failed{(failures.IsEmpty ? "" : $" ({Described(result.Failures)})")}; acks over p99 due " +
            $"{slowest.Min():0.00} to {slowest.Max():0.00} s into the run, the driver paused {paused:0} ms");
        return result;
    }

    /// <returns>Null for a 202; otherwise the status code, or the error's name.</returns>
    static async Task<string?> SendAsync(HttpClient http, Callback callback)
    {
        try
        {
            using var content = new ByteArrayContent(callback.Body);
            content.Headers.ContentType = new("application/json");
            using var response = await http.PostAsync(callback.Url, content);
            return response.StatusCode == HttpStatusCode.Accepted ? null : ((int)response.StatusCode).ToString();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return e.GetType().Name;
        }
    }
}
