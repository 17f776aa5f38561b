using EnrichmentRelay.Benchmarks.Report;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Benchmarks.Infrastructure;

/// <summary>Where the programs under measurement are: the relay's own Release build, and this driver (for its baseline modes).</summary>
public static class Binaries
{
    public static string Relay
    {
        get
        {
            var ownBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var root = ownBin;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "EnrichmentRelay.sln")))
                root = root.Parent;
            if (root is null)
                throw new InvalidOperationException("Cannot find EnrichmentRelay.sln above " + AppContext.BaseDirectory);
            var binary = Path.Combine(root.FullName, "src", "EnrichmentRelay", "bin", ownBin.Parent!.Name, ownBin.Name, "EnrichmentRelay.dll");
            return File.Exists(binary) ? binary : throw new FileNotFoundException("Build in Release first (infra/bench.sh does); relay not found", binary);
        }
    }

    public static string Driver => typeof(Binaries).Assembly.Location;
}

/// <summary>One or more relay processes on one virtual host and one ledger, pointed at the sandbox.</summary>
public sealed class RelayCluster : IAsyncDisposable
{
    public const string PreceptKey = "bench-precept-key";
    public const string WoodpeckerKey = "bench-woodpecker-key";
    public const string LanceKey = "bench-lance-key";
    /// <summary>On RabbitMQ the relay's intake must be protected; the load driver posts only webhooks, which need no key.</summary>
    public const string ClientKey = "bench-client-key-0123456789abcdefghij";

    public required IReadOnlyList<ChildProcess> Instances { get; init; }
    public required IReadOnlyList<Uri> BaseAddresses { get; init; }

    /// <summary>CPU seconds the instances have used so far, and of them the kernel's, summed over every instance.</summary>
    public (double Total, double Kernel) CpuSeconds()
    {
        var times = Instances.Select(i => i.CpuTimes()).ToList();
        return (times.Sum(t => t.Total.TotalSeconds), times.Sum(t => t.Kernel.TotalSeconds));
    }

    /// <summary>
    /// Rows the instances claimed from one another and rows their short claims passed over, summed over every instance, by
    /// work (requests, outbox, callbacks): the relay's <c>relay_claims_*</c> counters read from each <c>/metrics</c>.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, (double Claimed, double PassedOver)>> ClaimsAsync()
    {
        var totals = new Dictionary<string, (double Claimed, double PassedOver)>();
        foreach (var (name, labels, value) in await ScrapeAsync())
        {
            var passedOver = name == "relay_claims_passed_over_total";
            if (!passedOver && name != "relay_claims_rows_total")
                continue;
            var work = labels.Split("work=\"")[1].Split('"')[0];
            var (claimed, skipped) = totals.GetValueOrDefault(work);
            totals[work] = passedOver ? (claimed, skipped + value) : (claimed + value, skipped);
        }
        return totals;
    }

    /// <summary>
    /// The runtime's counters (its own <c>System.Runtime</c> meter on <c>/metrics</c>), summed over every instance: what
    /// the relay allocated, how often it collected and how long the collections paused it, and what the JIT compiled.
    /// </summary>
    public async Task<RuntimeFigures> RuntimeAsync()
    {
        double allocated = 0, gen0 = 0, gen1 = 0, gen2 = 0, paused = 0, jitMethods = 0, jitSeconds = 0;
        foreach (var (name, labels, value) in await ScrapeAsync())
            switch (name)
            {
                case "dotnet_gc_heap_total_allocated_bytes_total": allocated += value; break;
                case "dotnet_gc_pause_time_seconds_total": paused += value; break;
                case "dotnet_gc_collections_total" when labels.Contains("\"gen0\""): gen0 += value; break;
                case "dotnet_gc_collections_total" when labels.Contains("\"gen1\""): gen1 += value; break;
                case "dotnet_gc_collections_total" when labels.Contains("\"gen2\""): gen2 += value; break;
                case "dotnet_jit_compiled_methods_total": jitMethods += value; break;
                case "dotnet_jit_compilation_time_seconds_total": jitSeconds += value; break;
            }
        return new RuntimeFigures(allocated, gen0, gen1, gen2, paused, jitMethods, jitSeconds);
    }

    /// <summary>Every sample of every instance's <c>/metrics</c>: its name, its labels (<c>{...}</c>, or empty) and its value.</summary>
    async Task<List<(string Name, string Labels, double Value)>> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Add("X-Api-Key", ClientKey);
        var samples = new List<(string, string, double)>();
        foreach (var address in BaseAddresses)
            foreach (var line in (await http.GetStringAsync(new Uri(address, "metrics"))).Split('\n'))
            {
                if (line.Length == 0 || line[0] == '#')
                    continue;
                var brace = line.IndexOf('{');
                var nameEnd = brace >= 0 ? brace : line.IndexOf(' ');
                if (nameEnd <= 0)
                    continue;
                var labelsEnd = brace >= 0 ? line.LastIndexOf('}') + 1 : nameEnd;
                var value = line[labelsEnd..].Trim().Split(' ')[0];
                if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number))
                    samples.Add((line[..nameEnd], line[nameEnd..labelsEnd], number));
            }
        return samples;
    }

    public static SandboxOptions SandboxOptions => new() { PreceptApiKey = PreceptKey, WoodpeckerApiKey = WoodpeckerKey, LanceApiKey = LanceKey };

    /// <summary>
    /// Starts <paramref name="instances"/> relays one after the other: the first applies the migrations, the
    /// others find them applied (concurrent migrations of one database would race).
    /// </summary>
    public static async Task<RelayCluster> StartAsync(string name, BenchEnvironment env, string vhost, BenchDatabase database,
        SandboxServer sandbox, IReadOnlyDictionary<string, string> overrides, int instances = 1)
    {
        var settings = new Dictionary<string, string>
        {
            ["Bus__Transport"] = "RabbitMq",
            ["Bus__Host"] = env.RabbitHost,
            ["Bus__Port"] = env.RabbitPort.ToString(),
            ["Bus__VirtualHost"] = vhost,
            ["Bus__Username"] = env.RabbitUser,
            ["Bus__Password"] = env.RabbitPassword,
            ["Sandbox__Enabled"] = "false",
            ["Relay__ClientApiKey"] = ClientKey,
            ["Providers__Precept__BaseUrl"] = sandbox.BaseAddress.ToString(),
            ["Providers__Precept__ApiKey"] = PreceptKey,
            ["Providers__Woodpecker__BaseUrl"] = new Uri(sandbox.BaseAddress, "rest/").ToString(),
            ["Providers__Woodpecker__ApiKey"] = WoodpeckerKey,
            ["Providers__Lance__BaseUrl"] = sandbox.BaseAddress.ToString(),
            ["Providers__Lance__ApiKey"] = LanceKey,
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
        };
        foreach (var (key, value) in database.Settings)
            settings[key] = value;
        foreach (var (key, value) in overrides)
            settings[key] = value;

        var started = new List<ChildProcess>();
        var addresses = new List<Uri>();
        try
        {
            for (var i = 0; i < instances; i++)
            {
                var port = ChildProcess.FreePort();
                var address = new Uri($"http://127.0.0.1:{port}/");
                var process = ChildProcess.Start(instances == 1 ? name : $"{name}-{i + 1}", Binaries.Relay,
                    ["--urls", address.ToString().TrimEnd('/')], settings, Path.Combine(env.WorkDirectory, "logs"));
                started.Add(process);
                addresses.Add(address);
                await process.WaitUntilReadyAsync(new Uri(address, "health/ready"), TimeSpan.FromSeconds(90));
            }
        }
        catch
        {
            foreach (var process in started)
                await process.DisposeAsync();
            throw;
        }
        return new RelayCluster { Instances = started, BaseAddresses = addresses };
    }

    public ChildProcess First => Instances[0];

    public async ValueTask DisposeAsync()
    {
        foreach (var instance in Instances)
            await instance.DisposeAsync();
    }
}
