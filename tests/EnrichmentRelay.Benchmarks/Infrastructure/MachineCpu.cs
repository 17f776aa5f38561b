using System.Diagnostics;

namespace EnrichmentRelay.Benchmarks.Infrastructure;

/// <summary>
/// CPU time of what a run shares the machine with, read from <c>/proc</c>: the broker node, the PostgreSQL cluster (its
/// postmaster and every process it started, those that ended included), this driver (the load, the completions it
/// receives and the in-process provider sandbox) and the machine as a whole. On 2 cores flat out, the relay's rate is
/// what the machine's CPU per request allows; these say where that CPU went, for the relay's runs and the bare chain's.
/// </summary>
public sealed class MachineCpu(int? brokerPid, int? postmasterPid)
{
    // Linux reports process and machine times in USER_HZ ticks, 100 a second on every kernel .NET runs on.
    const double TicksPerSecond = 100;

    /// <summary>The broker and PostgreSQL that infra/bench.sh started, found by the pid files their start scripts leave.</summary>
    public static MachineCpu FromEnvironment() => new(
        PidIn(Environment.GetEnvironmentVariable("RELAY_TEST_RABBITMQ_DIR"), "pid"),
        PidIn(Environment.GetEnvironmentVariable("RELAY_TEST_PG_DATA"), "postmaster.pid"));

    static int? PidIn(string? directory, string file)
    {
        var path = directory is null ? null : Path.Combine(directory, file);
        return path is not null && File.Exists(path) && int.TryParse(File.ReadLines(path).FirstOrDefault()?.Trim(), out var pid) ? pid : null;
    }

    public CpuSample Sample()
    {
        var processes = Processes();
        return new CpuSample(
            Broker: brokerPid is { } broker && processes.TryGetValue(broker, out var b) ? b.Own + b.Children : null,
            Database: postmasterPid is { } postmaster && processes.TryGetValue(postmaster, out var p)
                ? p.Own + p.Children + processes.Values.Where(c => c.Parent == postmaster).Sum(c => c.Own + c.Children)
                : null,
            Driver: Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
            Machine: MachineBusy());
    }

    /// <summary>Every process's own CPU seconds and those of its children it has reaped, with its parent.</summary>
    static Dictionary<int, (int Parent, double Own, double Children)> Processes()
    {
        var all = new Dictionary<int, (int, double, double)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
                continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // ended meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            // After the command name in parentheses (which may hold spaces): state, ppid, ... utime is the 12th, then stime, cutime, cstime.
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            all[pid] = (int.Parse(f[1]), (double.Parse(f[11]) + double.Parse(f[12])) / TicksPerSecond,
                (double.Parse(f[13]) + double.Parse(f[14])) / TicksPerSecond);
        }
        return all;
    }

    /// <summary>CPU seconds the machine's cores were busy (everything but idle and waiting for I/O) since it started.</summary>
    static double MachineBusy()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(double.Parse).ToArray();
        return (f.Sum() - f[3] - f[4]) / TicksPerSecond;
    }
}

/// <summary>CPU seconds so far (null: that part is not running here); the difference of two samples is what a run used.</summary>
public sealed record CpuSample(double? Broker, double? Database, double Driver, double Machine)
{
    public static CpuSample operator -(CpuSample after, CpuSample before) => new(
        after.Broker - before.Broker, after.Database - before.Database, after.Driver - before.Driver, after.Machine - before.Machine);
}
