using BenchmarkDotNet.Running;
using EnrichmentRelay.Benchmarks;
using EnrichmentRelay.Benchmarks.Baselines;
using EnrichmentRelay.Benchmarks.Profiling;

// infra/bench.sh runs `load`; the driver starts itself again as `republisher` and `bare-webhook` (the baselines,
// each in a process of its own like the relay); `micro` runs the BenchmarkDotNet suites of the hot paths;
// `allocations` reads a relay's allocation trace (docs/performance.md, "How to profile").
return args.FirstOrDefault() switch
{
    "load" => await LoadDriver.RunAsync(BenchOptions.Parse(args[1..])),
    "republisher" => await Republisher.RunAsync(args[1..]),
    "bare-webhook" => await BareWebhook.RunAsync(args[1..]),
    "micro" => Micro(args[1..]),
    "allocations" => AllocationReport.Run(args[1..]),
    _ => Usage(),
};

static int Micro(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(LoadDriver).Assembly).Run(args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: EnrichmentRelay.Benchmarks load [--sections e2e-sqlite,e2e-postgres,instances,webhook,batch,memory] [--requests 20000] ...
               EnrichmentRelay.Benchmarks micro [BenchmarkDotNet arguments, e.g. --filter '*']
               EnrichmentRelay.Benchmarks allocations TRACE.nettrace [frame name part]
        Run the load through infra/bench.sh: it starts the broker and the database the driver needs.
        """);
    return 2;
}
