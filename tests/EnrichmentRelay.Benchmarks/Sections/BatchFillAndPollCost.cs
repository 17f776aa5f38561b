using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;

namespace EnrichmentRelay.Benchmarks.Sections;

/// <summary>
/// Sections 3 and 4 from one relay: 1,000 leads per provider, published in one burst each with the relay's default
/// batch settings; the sandbox counts the submit calls (batch fill) and the status requests (poll cost).
/// </summary>
public sealed class BatchFillAndPollCost(BenchEnvironment env, BenchOptions options, BenchRun run, Action<string> say)
{
    const int Leads = 1000;

    /// <summary>The defaults, except a 1 s poll tick (30 s by default) so the run takes seconds; the cost per completion is what counts.</summary>
    public static IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Providers__Woodpecker__PollInterval"] = "00:00:01",
        ["Providers__Lance__PollInterval"] = "00:00:01",
    };

    public async Task RunAsync(Engine engine)
    {
        say($"batch fill and poll cost ({engine}): {Leads:N0} leads for each provider, default BatchSize and FlushWindow");
        var vhost = await env.NewVirtualHostAsync("fill");
        var database = await env.NewDatabaseAsync(engine);
        var lancePeople = Enumerable.Range(0, Leads).Select(_ => Guid.NewGuid().ToString()).ToList();
        var sandbox = await EndToEnd.StartSandboxAsync(s =>
        {
            foreach (var (id, i) in lancePeople.Select((p, i) => (p, i)))
                s.Lance.AddPerson(id, "Ann", $"Archer{i}");
        });
        try
        {
            await using var relay = await RelayCluster.StartAsync($"relay-batchfill-{engine.ToString().ToLowerInvariant()}", env, vhost, database,
                sandbox, Settings);
            await using var listener = await CompletionListener.StartAsync(env.Broker(vhost), CompletionListener.RelayExchange);
            run.BatchDurability = await database.DurabilityAsync();

            foreach (var (provider, requests) in new[]
                     {
                         ("Precept", Enumerable.Range(0, Leads).Select(BenchRequests.Precept).ToList()),
                         ("Woodpecker", Enumerable.Range(0, Leads).Select(BenchRequests.Woodpecker).ToList()),
                         ("Lance", lancePeople.Select((p, i) => BenchRequests.Lance(p, i)).ToList()),
                     })
            {
                var timeline = new Timeline(requests);
                listener.Timeline = timeline;
                await BrokerPublisher.PublishAsync(env.Broker(vhost), "enrichment-requested", requests, timeline, null);
                if (!await timeline.WaitForAllAsync(TimeSpan.FromSeconds(120), options.StallLimit))
                    run.Notes.Add($"Batch fill: only {timeline.Distinct} of {requests.Count} {provider} requests completed.");
                say($"  {provider}: {timeline.Distinct:N0} completed in {timeline.Latency().Max / 1000:0.0} s");
                Record(provider, timeline.Distinct, sandbox);
            }
        }
        finally
        {
            await sandbox.DisposeAsync();
            await env.DeleteVirtualHostAsync(vhost);
            database.Delete();
        }
    }

    void Record(string provider, int completed, EnrichmentRelay.Sandbox.SandboxServer sandbox)
    {
        switch (provider)
        {
            case "Precept":
            {
                var c = sandbox.Precept.Counters;
                run.BatchFill.Add(new BatchFillResult(provider, Leads, 1000, c.SubmitCalls, c.LargestJob));
                // Webhook-driven: status reads are the verification of each callback (and the sweep, which does not run this soon).
                run.PollCost.Add(new PollCostResult(provider, completed, c.JobStatusCalls + c.JobListCalls, 0,
                    $"{c.JobStatusCalls} job reads (callback verification), {c.JobListCalls} job lists"));
                break;
            }
            case "Woodpecker":
            {
                var c = sandbox.Woodpecker.Counters;
                run.BatchFill.Add(new BatchFillResult(provider, Leads, 50, c.LeadSubmitCalls, c.LargestBatch));
                run.PollCost.Add(new PollCostResult(provider, completed, c.ListCalls + c.GetCalls + c.StatusQueryCalls, c.ProspectSearchCalls,
                    $"{c.ListCalls} batch lists, {c.GetCalls} batch reads, {c.StatusQueryCalls} prospect status queries; {c.ProspectSearchCalls} prospect reads"));
                break;
            }
            default:
            {
                var c = sandbox.Lance.Counters;
                run.BatchFill.Add(new BatchFillResult(provider, Leads, 1000, c.BulkCalls, c.LargestBulk));
                run.PollCost.Add(new PollCostResult(provider, completed, c.QueryCalls, c.PersonReads,
                    $"{c.QueryCalls} batch queries (largest {c.LargestQuery}); {c.PersonReads} person reads"));
                break;
            }
        }
    }
}
