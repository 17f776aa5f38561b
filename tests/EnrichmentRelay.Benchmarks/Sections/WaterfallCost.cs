using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Benchmarks.Infrastructure;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Benchmarks.Sections;

/// <summary>
/// One way of asking for the same contacts: a provider order, how many passes of the same leads it sends (each with new
/// request ids; only the last pass is measured), and the relay settings it adds to <see cref="WaterfallCost.Settings"/>.
/// </summary>
public sealed record WaterfallVariant(string Name, IReadOnlyList<ProviderName> Order, int Passes = 1, IReadOnlyDictionary<string, string>? Settings = null);

/// <summary>
/// Credits per found contact beside the found rate, for each <see cref="Variants"/> entry, over one population of
/// 1,000 leads asking email and phone, in which each provider finds its own, independent part of the contacts
/// (<see cref="FoundShare"/>). Each variant runs on a fresh relay, ledger and sandbox, so none profits from what another
/// paid for; the credits are what the sandbox charged. Another variant is one more line in <see cref="Variants"/>; the
/// identity cache's is the waterfall with <c>Passes: 2</c> (the second pass of the same leads is the one measured).
/// </summary>
public sealed class WaterfallCost(BenchEnvironment env, BenchOptions options, BenchRun run, Action<string> say)
{
    public const int Leads = 1000;
    public static readonly FoundShare LancePopulation = new(0.5, Seed: 16);
    public static readonly FoundShare PreceptPopulation = new(0.6, Seed: 61);

    /// <summary>The identity cache off: each pass pays for every lead, as a relay without the cache would.</summary>
    static readonly IReadOnlyDictionary<string, string> CacheOff = new Dictionary<string, string> { ["Cache__FoundFor"] = "00:00:00" };

    public static IReadOnlyList<WaterfallVariant> Variants { get; } =
    [
        new("Lance alone", [ProviderName.Lance], Settings: CacheOff),
        new("Precept alone", [ProviderName.Precept], Settings: CacheOff),
        new("waterfall", [ProviderName.Lance, ProviderName.Precept], Settings: CacheOff),
        // The same leads a second time, the identity cache on (as it ships): what a repeat costs. Without the cache a
        // second pass costs what the first did.
        new("waterfall + cache, 2nd pass", [ProviderName.Lance, ProviderName.Precept], Passes: 2),
    ];

    /// <summary>The defaults, except a 1 s Lance poll tick (30 s by default) so a variant takes seconds; what counts is credits and finds.</summary>
    public static IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Providers__Lance__PollInterval"] = "00:00:01",
    };

    sealed record PopulationLead(string PersonId, string LinkedInUrl);

    public async Task RunAsync(Engine engine)
    {
        // One population for every variant: the same leads, so the same contacts are there to be found.
        var population = Enumerable.Range(0, Leads)
            .Select(i => new PopulationLead(Guid.NewGuid().ToString(), $"https://www.linkedin.com/in/cost-{i}-{Guid.NewGuid():N}")).ToList();
        run.Settings[$"waterfall cost ({engine})"] = Settings;
        foreach (var variant in Variants)
            run.WaterfallCost.Add(await RunAsync(engine, variant, population));
    }

    async Task<WaterfallCostResult> RunAsync(Engine engine, WaterfallVariant variant, IReadOnlyList<PopulationLead> population)
    {
        var order = string.Join(" → ", variant.Order);
        say($"waterfall cost ({engine}): {variant.Name} ({order}), {Leads:N0} leads × email + phone" + (variant.Passes > 1 ? $", pass {variant.Passes} measured" : ""));
        var vhost = await env.NewVirtualHostAsync("waterfall");
        var database = await env.NewDatabaseAsync(engine);
        var sandbox = await EndToEnd.StartSandboxAsync(s =>
        {
            s.Lance.Settings.Population = LancePopulation;
            s.Precept.Settings.Population = PreceptPopulation;
        });
        try
        {
            var settings = new Dictionary<string, string>(Settings);
            foreach (var (key, value) in variant.Settings ?? new Dictionary<string, string>())
                settings[key] = value;
            await using var relay = await RelayCluster.StartAsync($"relay-waterfall-{System.Text.RegularExpressions.Regex.Replace(variant.Name.ToLowerInvariant(), "[^a-z0-9]+", "-")}", env, vhost,
                database, sandbox, settings);
            await using var listener = await CompletionListener.StartAsync(env.Broker(vhost), CompletionListener.RelayExchange);
            if (variant.Settings is { Count: > 0 })
                run.Settings[$"waterfall cost, {variant.Name} ({engine})"] = settings;
            run.WaterfallDurability ??= await database.DurabilityAsync();

            WaterfallCostResult? measured = null;
            for (var pass = 1; pass <= variant.Passes; pass++)
            {
                var requests = population.Select(l => new EnrichmentRequested
                {
                    RequestId = Guid.NewGuid(),
                    Lead = new Lead { LancePersonId = l.PersonId, LinkedInUrl = l.LinkedInUrl },
                    Fields = [EnrichmentField.Email, EnrichmentField.Phone],
                    Providers = variant.Order,
                }).ToList();
                var published = requests.Select(r => new PublishedRequest(r.RequestId, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(r, Json)))).ToList();
                var timeline = new Timeline(published);
                var bodies = new ConcurrentDictionary<Guid, byte[]>();
                listener.Timeline = timeline;
                listener.Bodies = bodies;
                var creditsBefore = Credits(sandbox);
                var clock = Stopwatch.StartNew();
                await BrokerPublisher.PublishAsync(env.Broker(vhost), "enrichment-requested", published, timeline, null);
                if (!await timeline.WaitForAllAsync(TimeSpan.FromSeconds(180), options.StallLimit))
                    run.Notes.Add($"Waterfall cost, {variant.Name}: only {timeline.Distinct} of {requests.Count} requests completed.");
                clock.Stop();
                var creditsAfter = Credits(sandbox);
                measured = Measure(variant, order, population, bodies.Values, creditsBefore, creditsAfter, clock.Elapsed.TotalSeconds);
                say($"  pass {pass}: {measured.Completed:N0} completed in {clock.Elapsed.TotalSeconds:0.0} s; found {measured.RequestsFound:N0} requests, " +
                    $"{measured.FieldsFound:N0} contacts for {measured.Credits:0.#} credits");
            }
            return measured!;
        }
        finally
        {
            await sandbox.DisposeAsync();
            await env.DeleteVirtualHostAsync(vhost);
            database.Delete();
        }
    }

    static WaterfallCostResult Measure(WaterfallVariant variant, string order, IReadOnlyList<PopulationLead> population, IEnumerable<byte[]> completions,
        IReadOnlyDictionary<ProviderName, decimal> before, IReadOnlyDictionary<ProviderName, decimal> after, double seconds)
    {
        int completed = 0, requestsFound = 0, fieldsFound = 0;
        foreach (var body in completions)
        {
            var (found, contacts) = Outcome(body);
            completed++;
            requestsFound += found ? 1 : 0;
            fieldsFound += contacts;
        }
        // What the population lets the variant's providers find together: a field is there if any of them finds it.
        var unionFields = population.Sum(l => new[] { "email", "phone" }.Count(field => variant.Order.Any(p => p switch
        {
            ProviderName.Lance => LancePopulation.Finds("lance", l.PersonId, field),
            ProviderName.Precept => PreceptPopulation.Finds("precept", l.LinkedInUrl, field),
            _ => false,
        })));
        var charged = variant.Order.ToDictionary(p => p, p => after[p] - before[p]);
        return new WaterfallCostResult(variant.Name, order, Leads, completed, 2 * Leads, requestsFound, fieldsFound, unionFields,
            charged.Values.Sum(), string.Join(", ", charged.Select(c => $"{c.Key} {c.Value:0.#}")), seconds);
    }

    /// <summary>Whether the completion found anything, and how many of its fields (an email, a phone) it found.</summary>
    public static (bool Found, int Contacts) Outcome(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        // In MassTransit's envelope the event is under "message"; a bare body is the event itself.
        var message = doc.RootElement.TryGetProperty("message", out var inner) ? inner : doc.RootElement;
        int Count(string name) => message.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0 ? 1 : 0;
        var found = string.Equals(message.GetProperty("outcome").GetString(), "found", StringComparison.OrdinalIgnoreCase);
        return (found, Count("emails") + Count("phones"));
    }

    static Dictionary<ProviderName, decimal> Credits(SandboxServer sandbox) => new()
    {
        [ProviderName.Lance] = sandbox.Lance.Counters.CreditsCharged,
        [ProviderName.Precept] = sandbox.Precept.Counters.CreditsCharged,
        [ProviderName.Woodpecker] = sandbox.Woodpecker.Counters.CreditsCharged,
    };

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
