using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// The relay as users run it: its own process (dotnet EnrichmentRelay.dll), configured only through
/// environment variables, talking to the real broker, database and the sandbox over HTTP.
/// </summary>
public sealed class RelayProcess : IAsyncDisposable
{
    readonly Process process;
    readonly ConcurrentQueue<string> log = new();
    readonly StreamWriter logFile;

    public Uri BaseAddress { get; }
    public HttpClient Http { get; }
    public string LogPath { get; }

    /// <summary>The setting holding the client key; when the relay has one, <see cref="Http"/> sends it (as a bearer token).</summary>
    public const string ClientKeySetting = "Relay__ClientApiKey";

    RelayProcess(Process process, Uri baseAddress, string logPath, StreamWriter logFile, string? clientKey)
    {
        this.process = process;
        this.logFile = logFile;
        BaseAddress = baseAddress;
        LogPath = logPath;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        // As a bearer token, so a test can still send an admin key in X-Api-Key beside it.
        if (!string.IsNullOrEmpty(clientKey))
            Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", clientKey);
    }

    public int Port => BaseAddress.Port;

    /// <summary>The operating system's id of this relay process: the same id throughout means it was never restarted.</summary>
    public int ProcessId => process.Id;

    public bool HasExited => process.HasExited;

    /// <param name="port">The port to listen on; a restart passes the old one, so callback URLs given out stay valid.</param>
    /// <param name="waitUntilReady">False for a relay that is expected never to become ready (a broker it must refuse).</param>
    public static async Task<RelayProcess> StartAsync(IReadOnlyDictionary<string, string> settings, int? port = null, bool waitUntilReady = true)
    {
        port ??= FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}/");
        var start = StartInfo(settings, baseAddress);

        var logPath = Path.Combine(Path.GetTempPath(), $"relay-it-{port}-{Guid.NewGuid():N}.log");
        var logFile = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the relay process.");
        var relay = new RelayProcess(process, baseAddress, logPath, logFile, settings.GetValueOrDefault(ClientKeySetting));
        process.OutputDataReceived += (_, e) => relay.Append(e.Data);
        process.ErrorDataReceived += (_, e) => relay.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            if (waitUntilReady)
                await relay.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            await relay.DisposeAsync();
            throw;
        }
        return relay;
    }

    /// <summary>
    /// Starts the relay expecting it to stop by itself (a settings check, a command such as <c>--migrate</c>): its exit
    /// code and everything it printed, or a timeout if it is still running after <paramref name="deadline"/>.
    /// </summary>
    /// <param name="arguments">Put before the relay's own <c>--urls</c>; a command flag must come first.</param>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IReadOnlyDictionary<string, string> settings, TimeSpan deadline,
        params string[] arguments)
    {
        var start = StartInfo(settings, new Uri($"http://127.0.0.1:{FreePort()}/"), arguments);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the relay process.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"The relay was still running after {deadline.TotalSeconds:0} s:\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, (await stdout) + (await stderr));
    }

    static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string> settings, Uri baseAddress, string[]? arguments = null)
    {
        var binary = RelayBinary();
        var start = new ProcessStartInfo("dotnet", [binary, .. arguments ?? [], "--urls", baseAddress.ToString().TrimEnd('/')])
        {
            WorkingDirectory = Path.GetDirectoryName(binary)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in settings)
            start.Environment[key] = value;
        return start;
    }

    void Append(string? line)
    {
        if (line is null)
            return;
        log.Enqueue(line);
        lock (logFile)
            logFile.WriteLine(line);
    }

    public string LogText => string.Join('\n', log);

    public string LogTail(int lines = 60) => string.Join('\n', log.TakeLast(lines));

    /// <summary>The relay's warnings that it reconnects to the broker because the broker rejected a publish (its RejectedPublishRecovery).</summary>
    public IReadOnlyList<string> ReconnectsAfterRejectedPublishes =>
        log.Where(line => line.Contains("reconnecting to it so that the next publishes go out on new channels")).ToList();

    async Task WaitUntilReadyAsync(TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The relay exited with code {process.ExitCode} while starting:\n{LogTail()}");
            try
            {
                using var response = await Http.GetAsync("health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The relay was not ready within {deadline.TotalSeconds:0} s:\n{LogTail()}");
    }

    /// <summary>SIGKILL, no goodbye: what a crash, an OOM kill or a pulled plug looks like to the relay.</summary>
    public ValueTask KillAsync() => DisposeAsync();

    /// <summary>
    /// SIGTERM, what <c>docker stop</c> and Kubernetes send, then waits for the relay to exit on its own.
    /// Returns its exit code; throws if it is still running after <paramref name="deadline"/>.
    /// </summary>
    public async Task<int> StopAsync(TimeSpan deadline)
    {
        if (!process.HasExited)
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString()]) { UseShellExecute = false })!)
                await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(deadline);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The relay was still running {deadline.TotalSeconds:0} s after SIGTERM:\n{LogTail()}");
            }
        }
        return process.ExitCode;
    }

    bool disposed;

    public async ValueTask DisposeAsync()
    {
        if (disposed)
            return;
        disposed = true;
        Http.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
        }
        process.Dispose();
        lock (logFile)
            logFile.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The relay built beside these tests: src/EnrichmentRelay/bin/{Configuration}/{tfm}/EnrichmentRelay.dll.</summary>
    public static string RelayBinary()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = testBin.Name;
        var configuration = testBin.Parent!.Name;
        var binary = Path.Combine(RepositoryRoot, "src", "EnrichmentRelay", "bin", configuration, tfm, "EnrichmentRelay.dll");
        return File.Exists(binary) ? binary : throw new FileNotFoundException("Build the solution first; relay not found", binary);
    }

    /// <summary>The checkout these tests were built from: the folder holding EnrichmentRelay.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "EnrichmentRelay.sln")))
                root = root.Parent;
            return root?.FullName ?? throw new InvalidOperationException("Cannot find EnrichmentRelay.sln above " + AppContext.BaseDirectory);
        }
    }
}
