using System.Runtime.InteropServices;

namespace EnrichmentRelay.Sandbox;

/// <summary>
/// Standalone: <c>dotnet run --project src/EnrichmentRelay.Sandbox -- --port 5081</c>. The port also comes from
/// <c>Sandbox:Port</c> (e.g. <c>Sandbox__Port</c>), the keys from <c>Sandbox:PreceptApiKey</c>, <c>Sandbox:WoodpeckerApiKey</c>, <c>Sandbox:LanceApiKey</c>.
/// </summary>
public static class SandboxProgram
{
    public static async Task Main(string[] args)
    {
        var config = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var options = new SandboxOptions
        {
            Port = config.GetValue("port", config.GetValue("Sandbox:Port", 5081)),
            PreceptApiKey = config["Sandbox:PreceptApiKey"] ?? new SandboxOptions().PreceptApiKey,
            WoodpeckerApiKey = config["Sandbox:WoodpeckerApiKey"] ?? new SandboxOptions().WoodpeckerApiKey,
            LanceApiKey = config["Sandbox:LanceApiKey"] ?? new SandboxOptions().LanceApiKey,
        };

        var stop = new TaskCompletionSource();
        // Cancel the default termination so the sandbox is disposed (jobs and deliveries stopped) on the way out.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        await using var sandbox = await SandboxServer.StartAsync(options);
        Console.WriteLine($"Provider sandbox listening on {sandbox.BaseAddress} (keys: Precept {options.PreceptApiKey}, Woodpecker {options.WoodpeckerApiKey}, Lance {options.LanceApiKey}); Ctrl+C stops it.");
        await stop.Task;
    }
}
