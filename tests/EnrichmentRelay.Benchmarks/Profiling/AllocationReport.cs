using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace EnrichmentRelay.Benchmarks.Profiling;

/// <summary>
/// Where a relay's allocations come from, read from an EventPipe trace taken with
/// <c>dotnet-trace collect -p PID --profile gc-verbose</c> (an allocation tick, with its stack, about every 100 KB):
/// the collections and why they ran, the large objects and who made them, the types, and the innermost frames that
/// allocated. Innermost frames, not callers: an async continuation's stack stops where it resumed, so "inclusive"
/// figures across awaits would credit whatever method happened to resume it.
/// </summary>
public static class AllocationReport
{
    /// <param name="args">The trace file, then optionally a frame name part: only allocations with that frame on their stack.</param>
    public static int Run(string[] args)
    {
        if (args.Length is 0 or > 2 || !File.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: EnrichmentRelay.Benchmarks allocations TRACE.nettrace [frame name part]");
            return 2;
        }
        var filter = args.Length > 1 ? args[1] : null;
        using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
        var collections = new Dictionary<string, int>();
        var large = new Dictionary<string, long>();
        var byType = new Dictionary<string, long>();
        var byFrames = new Dictionary<string, long>();
        var byRelayFrames = new Dictionary<string, long>();
        long total = 0;
        foreach (var data in log.Events)
        {
            if (data is GCStartTraceData start)
            {
                var key = $"gen {start.Depth}, {start.Reason}, {start.Type}";
                collections[key] = collections.GetValueOrDefault(key) + 1;
                continue;
            }
            if (data is not GCAllocationTickTraceData tick)
                continue;
            var frames = Frames(tick.CallStack());
            if (filter is not null && !frames.Any(f => f.Contains(filter, StringComparison.Ordinal)))
                continue;
            var amount = tick.AllocationAmount64;
            total += amount;
            var type = tick.TypeName ?? "?";
            var innermost = string.Join(" < ", frames.Where(f => !f.StartsWith("System.", StringComparison.Ordinal)).Take(4));
            byType[type] = byType.GetValueOrDefault(type) + amount;
            byFrames[innermost] = byFrames.GetValueOrDefault(innermost) + amount;
            // Where the relay's own code asked for it, however deep in a library the allocation happened.
            var relay = string.Join(" < ", frames.SkipWhile(f => !f.StartsWith("EnrichmentRelay.", StringComparison.Ordinal)).Take(3));
            byRelayFrames[relay] = byRelayFrames.GetValueOrDefault(relay) + amount;
            if (tick.AllocationKind == GCAllocationKind.Large)
                large[$"{type} @ {innermost}"] = large.GetValueOrDefault($"{type} @ {innermost}") + amount;
        }

        Console.WriteLine($"Sampled allocations: {total / 1048576.0:N1} MiB{(filter is null ? "" : $" (with '{filter}' on the stack)")}");
        Console.WriteLine("\nCollections (generation, reason, kind):");
        foreach (var (key, count) in collections.OrderBy(c => c.Key))
            Console.WriteLine($"  {count,5}  {key}");
        Print("Large objects (they start gen 2 collections once their budget is spent)", large, total, 12, share: false);
        Print("By type", byType, total, 25);
        Print("By the innermost frames outside System.*", byFrames, total, 40);
        Print("By the innermost frames of the relay's own code (empty: none on the stack)", byRelayFrames, total, 30);
        return 0;
    }

    static List<string> Frames(TraceCallStack? stack)
    {
        var frames = new List<string>();
        for (; stack is not null; stack = stack.Caller)
            if (stack.CodeAddress.FullMethodName is { Length: > 0 } method)
                frames.Add(method.Split('(')[0]);
        return frames;
    }

    static void Print(string title, Dictionary<string, long> amounts, long total, int top, bool share = true)
    {
        Console.WriteLine($"\n{title}:");
        foreach (var (key, amount) in amounts.OrderByDescending(a => a.Value).Take(top))
            Console.WriteLine(share ? $"  {100.0 * amount / Math.Max(total, 1),5:F1}%  {key}" : $"  {amount / 1048576.0,7:N1} MiB  {key}");
    }
}
