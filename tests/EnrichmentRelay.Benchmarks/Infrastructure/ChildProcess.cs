using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EnrichmentRelay.Benchmarks.Infrastructure;

/// <summary>
/// A process under measurement (a relay or a baseline): started with <c>dotnet some.dll</c>, configured only
/// through its environment and arguments, its output kept in a log file, stopped by its id.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    readonly Process process;
    readonly StreamWriter log;
    readonly Queue<string> tail = new();
    readonly TaskCompletionSource readyLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Name { get; }
    public string LogPath { get; }
    public int Id => process.Id;
    public bool HasExited => process.HasExited;

    ChildProcess(string name, Process process, string logPath, StreamWriter log)
    {
        Name = name;
        this.process = process;
        LogPath = logPath;
        this.log = log;
    }

    public static ChildProcess Start(string name, string dll, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment,
        string logDirectory)
    {
        var start = new ProcessStartInfo("dotnet", [dll, .. arguments])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
            start.Environment[key] = value;

        Directory.CreateDirectory(logDirectory);
        var logPath = Path.Combine(logDirectory, $"{name}.log");
        var log = new StreamWriter(logPath) { AutoFlush = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {name}.");
        var child = new ChildProcess(name, process, logPath, log);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    void Append(string? line)
    {
        if (line is null)
            return;
        if (line == "ready")
            readyLine.TrySetResult();
        lock (log)
        {
            log.WriteLine(line);
            tail.Enqueue(line);
            if (tail.Count > 80)
                tail.Dequeue();
        }
    }

    public string Tail()
    {
        lock (log)
            return string.Join('\n', tail);
    }

    /// <summary>Waits until <paramref name="url"/> answers 200 (the relay's /health/ready, a baseline's /ready).</summary>
    public async Task WaitUntilReadyAsync(Uri url, TimeSpan deadline)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{Name} exited with code {process.ExitCode} while starting:\n{Tail()}");
            try
            {
                using var response = await http.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} was not ready within {deadline.TotalSeconds:0} s:\n{Tail()}");
    }

    /// <summary>Waits for a line "ready" on the child's output (the republisher prints it once consuming).</summary>
    public async Task WaitForReadyLineAsync(TimeSpan deadline)
    {
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(readyLine.Task, exited, Task.Delay(deadline));
        if (first != readyLine.Task)
            throw new InvalidOperationException($"{Name} did not get ready within {deadline.TotalSeconds:0} s:\n{Tail()}");
    }

    /// <summary>Peak resident set size so far (VmHWM) and the current one (VmRSS), in bytes, from /proc.</summary>
    public (long Peak, long Current) Memory()
    {
        long peak = 0, current = 0;
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmHWM:"))
                peak = Kilobytes(line) * 1024;
            else if (line.StartsWith("VmRSS:"))
                current = Kilobytes(line) * 1024;
        }
        return (peak, current);

        static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    /// <summary>CPU time the process has used so far (user + system).</summary>
    public TimeSpan CpuTime() => CpuTimes().Total;

    /// <summary>
    /// CPU time the process has used so far, and of it the time spent in the kernel on its behalf (system calls), read
    /// together in one look at the process.
    /// </summary>
    public (TimeSpan Total, TimeSpan Kernel) CpuTimes()
    {
        process.Refresh();
        return (process.TotalProcessorTime, process.PrivilegedProcessorTime);
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            // SIGTERM first: the relay drains and stops cleanly; then make sure.
            Process.Start("kill", ["-TERM", process.Id.ToString()])?.WaitForExit();
            using var graceful = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(graceful.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        process.Dispose();
        lock (log)
            log.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
