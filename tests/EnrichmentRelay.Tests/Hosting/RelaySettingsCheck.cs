using System.Diagnostics;
using EnrichmentRelay.Operations;

namespace EnrichmentRelay.Tests.Hosting;

/// <summary>
/// <c>dotnet EnrichmentRelay.dll --check-settings</c> with only the given environment: the relay's whole settings check,
/// with no broker, database or network touched.
/// </summary>
public static class RelaySettingsCheck
{
    public static (int ExitCode, string Output) Run(IReadOnlyDictionary<string, string> environment)
    {
        // The relay's own build output (its runtimeconfig and appsettings.json), beside the configuration these tests run in.
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var binary = Path.Combine(ContainerStack.RepositoryRoot(), "src", "EnrichmentRelay", "bin", testBin.Parent!.Name, testBin.Name, "EnrichmentRelay.dll");
        var start = new ProcessStartInfo("dotnet", [binary, InvalidSettings.CheckFlag])
        {
            WorkingDirectory = Path.GetTempPath(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in start.Environment.Keys.Where(k => k.Contains("__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("--check-settings did not finish within 60 s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
