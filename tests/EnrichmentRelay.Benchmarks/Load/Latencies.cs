using System.Diagnostics;

namespace EnrichmentRelay.Benchmarks.Load;

/// <summary>Percentiles of a set of latencies (nearest rank), in milliseconds.</summary>
public sealed record LatencySummary(int Count, double P50, double P95, double P99, double Max)
{
    public static readonly LatencySummary Empty = new(0, double.NaN, double.NaN, double.NaN, double.NaN);

    public static LatencySummary Of(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.Order().ToArray();
        if (sorted.Length == 0)
            return Empty;
        return new LatencySummary(sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.95), Rank(sorted, 0.99), sorted[^1]);
    }

    /// <summary>Nearest-rank percentile: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    public static double Rank(double[] sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// Per request: when it was published and when (and how often) its completion arrived, on one Stopwatch clock.
/// Written from the publisher and the listener threads without locks (each slot has one writer).
/// </summary>
public sealed class Timeline
{
    readonly Dictionary<Guid, int> index;
    readonly long[] published;
    readonly long[] completed;
    readonly int[] deliveries;
    int completions, strays;

    public Timeline(IReadOnlyList<PublishedRequest> requests)
    {
        index = new Dictionary<Guid, int>(requests.Count);
        for (var i = 0; i < requests.Count; i++)
            index[requests[i].RequestId] = i;
        published = new long[requests.Count];
        completed = new long[requests.Count];
        deliveries = new int[requests.Count];
    }

    public int Count => published.Length;
    public int Distinct => Volatile.Read(ref completions);
    public int Duplicates => deliveries.Sum(d => Math.Max(0, d - 1));
    /// <summary>Completions for requests this run did not publish (a leftover or a warm-up request).</summary>
    public int Strays => Volatile.Read(ref strays);

    public void Published(int i) => published[i] = Stopwatch.GetTimestamp();

    public void Completed(Guid requestId)
    {
        if (!index.TryGetValue(requestId, out var i))
        {
            Interlocked.Increment(ref strays);
            return;
        }
        if (Interlocked.Increment(ref deliveries[i]) == 1)
        {
            completed[i] = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref completions);
        }
    }

    public async Task<bool> WaitForAllAsync(TimeSpan deadline, TimeSpan stallLimit)
    {
        var until = Stopwatch.GetTimestamp() + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        var last = -1;
        var lastProgress = Stopwatch.GetTimestamp();
        while (Distinct < Count)
        {
            var now = Stopwatch.GetTimestamp();
            if (Distinct != last)
            {
                last = Distinct;
                lastProgress = now;
            }
            if (now > until || Stopwatch.GetElapsedTime(lastProgress) > stallLimit)
                return false;
            await Task.Delay(50);
        }
        return true;
    }

    public LatencySummary Latency() =>
        LatencySummary.Of(Enumerable.Range(0, Count).Where(i => completed[i] != 0 && published[i] != 0)
            .Select(i => (completed[i] - published[i]) * 1000.0 / Stopwatch.Frequency));

    /// <summary>Completions per second from the first publish to the last completion.</summary>
    public double CompletionsPerSecond()
    {
        var first = published.Where(t => t != 0).DefaultIfEmpty().Min();
        var last = completed.Where(t => t != 0).DefaultIfEmpty().Max();
        return last > first ? Distinct / ((last - first) / (double)Stopwatch.Frequency) : 0;
    }

    /// <summary>How fast the publisher got its messages into the broker (confirmed).</summary>
    public double PublishedPerSecond(long publishEnded)
    {
        var first = published.Where(t => t != 0).DefaultIfEmpty().Min();
        return publishEnded > first ? Count / ((publishEnded - first) / (double)Stopwatch.Frequency) : 0;
    }
}
