using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;

namespace EnrichmentRelay.Benchmarks.Sections;

/// <summary>
/// Section 2: Precept callbacks posted straight to the relay's webhook (real jobs, real tokens) and, with the same
/// bodies and clients, to a bare Kestrel endpoint that stores nothing.
/// </summary>
public sealed class WebhookIngest(BenchEnvironment env, BenchOptions options, BenchRun run, Action<string> say)
{
    const int Jobs = 50;
    const int LeadsPerJob = 100;

    public static IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        // Jobs of 100 leads, as the section asks.
        ["Providers__Precept__BatchSize"] = LeadsPerJob.ToString(),
        ["Providers__Precept__FlushWindow"] = "00:00:00.200",
        // The per-address limit (500/s by default) would refuse the flat-out runs: all clients here share 127.0.0.1.
        ["Providers__Precept__WebhookPermitsPerSecond"] = "100000",
    };

    public async Task<List<WebhookResult>> RunAsync(Engine engine)
    {
        say($"webhook ingest ({engine}): {Jobs} Precept jobs of {LeadsPerJob} leads, callbacks posted by the driver");
        var vhost = await env.NewVirtualHostAsync("hook");
        var database = await env.NewDatabaseAsync(engine);
        // The sandbox sends no webhooks of its own: the driver posts them, with the bodies the sandbox would send.
        var sandbox = await EndToEnd.StartSandboxAsync(s => s.Precept.Settings.DropWebhooks = true);
        var results = new List<WebhookResult>();
        try
        {
            await using var relay = await RelayCluster.StartAsync($"relay-webhook-{engine.ToString().ToLowerInvariant()}", env, vhost, database,
                sandbox, Settings);
            await using var listener = await CompletionListener.StartAsync(env.Broker(vhost), CompletionListener.RelayExchange);
            var requests = Enumerable.Range(0, Jobs * LeadsPerJob).Select(BenchRequests.Precept).ToList();
            var timeline = new Timeline(requests);
            listener.Timeline = timeline;
            await BrokerPublisher.PublishAsync(env.Broker(vhost), "enrichment-requested", requests, null, null);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (sandbox.Precept.Jobs.Count(j => j.Status == "completed") < Jobs || sandbox.Precept.Counters.LeadsAccepted < requests.Count)
            {
                if (DateTime.UtcNow > until)
                    throw new TimeoutException($"The relay submitted only {sandbox.Precept.Counters.LeadsAccepted} of {requests.Count} leads");
                await Task.Delay(100);
            }

            var jobs = sandbox.Precept.Jobs;
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

            var port = ChildProcess.FreePort();
            var bareBase = new Uri($"http://127.0.0.1:{port}/");
            await using var bare = ChildProcess.Start("bare-webhook", Binaries.Driver, ["bare-webhook", "--urls", bareBase.ToString().TrimEnd('/')],
                new Dictionary<string, string>(), Path.Combine(env.WorkDirectory, "logs"));
            await bare.WaitUntilReadyAsync(new Uri(bareBase, "ready"), TimeSpan.FromSeconds(60));
            var relayBase = relay.BaseAddresses[0];
            var durability = await database.DurabilityAsync();

            // Streamed first: each lead's callback reaches the relay once, as Precept would send it; the per-job
            // callbacks that follow repeat results already applied (stored all the same, then recognised as duplicates).
            foreach (var (shape, callbacks, flatCount) in new[]
                     {
                         ("streamed (1 lead)", streamed, streamed.Count),
                         ($"per job ({LeadsPerJob} leads)", perJob, 2_000),
                     })
            {
                var relayTarget = $"relay, {engine.ToString().ToLowerInvariant()}";
                foreach (var (target, baseUrl) in new[] { ("bare Kestrel", bareBase), (relayTarget, relayBase) })
                {
                    var retargeted = callbacks.Select(c => c with { Url = Retarget(c.Url, baseUrl) }).ToList();
                    var stored = target == relayTarget ? durability : Durability.Nothing;
                    results.Add(await PostAsync(target, shape, retargeted, flatCount, options.WebhookClients, null) with { Durability = stored });
                    // The first callbacks of each lead start the relay's work (verify, complete, publish): let it finish,
                    // so the paced run measures ingest, not the backlog of the run before it.
                    if (target == relayTarget)
                        await timeline.WaitForAllAsync(TimeSpan.FromSeconds(60), options.StallLimit);
                    results.Add(await PostAsync(target, shape, retargeted, (int)(options.WebhookRate * options.PacedSeconds),
                        64, options.WebhookRate) with { Durability = stored });
                }
            }

            // Every lead completes once, whatever number of copies of its result arrived.
            await timeline.WaitForAllAsync(TimeSpan.FromSeconds(60), options.StallLimit);
            var check = $"Webhook ingest ({engine}): the relay completed {timeline.Distinct:N0} of {requests.Count:N0} requests from the posted callbacks, " +
                        $"{timeline.Duplicates} duplicate completions.";
            say("  " + check);
            run.Notes.Add(check);
        }
        finally
        {
            await sandbox.DisposeAsync();
            await env.DeleteVirtualHostAsync(vhost);
            database.Delete();
        }
        return results;
    }

    sealed record Callback(string Url, byte[] Body);

    static byte[] Body(JsonObject body) => Encoding.UTF8.GetBytes(body.ToJsonString());

    static string Retarget(string url, Uri baseUrl) => new Uri(baseUrl, new Uri(url).PathAndQuery).ToString();

    /// <summary>
    /// Posts <paramref name="count"/> callbacks (cycling through the list). Flat out: <paramref name="clients"/> clients
    /// each posting the next as soon as the last is answered. Paced: callback i is due at start + i / rate and its
    /// acknowledgement time counts from then, so a backlog shows in the figures instead of hiding in the client.
    /// </summary>
    async Task<WebhookResult> PostAsync(string target, string shape, List<Callback> callbacks, int count, int clients, double? rate)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        // Open the connections before measuring.
        await Task.WhenAll(Enumerable.Range(0, clients).Select(i => SendAsync(http, callbacks[i % callbacks.Count])));

        var latencies = new double[count];
        var failed = 0;
        var next = -1;
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
                if (!await SendAsync(http, callbacks[i % callbacks.Count]))
                    Interlocked.Increment(ref failed);
                latencies[i] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            }
        })));
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var result = new WebhookResult
        {
            Target = target,
            Shape = shape,
            Clients = clients,
            PacedRate = rate,
            Callbacks = count,
            Failed = failed,
            CallbacksPerSecond = count / elapsed,
            Ack = LatencySummary.Of(latencies),
            BodyBytes = callbacks.Average(c => c.Body.Length),
        };
        say($"  {target}, {shape}, {result.Mode}: {result.CallbacksPerSecond:N0} callbacks/s, ack p50 {result.Ack.P50:0.0} ms, " +
            $"p99 {result.Ack.P99:0.0} ms, {failed} failed");
        return result;
    }

    static async Task<bool> SendAsync(HttpClient http, Callback callback)
    {
        try
        {
            using var content = new ByteArrayContent(callback.Body);
            content.Headers.ContentType = new("application/json");
            using var response = await http.PostAsync(callback.Url, content);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }
}
