using System.Runtime.InteropServices;

namespace EnrichmentRelay.Sandbox;

/// <summary>
/// Standalone: <c>dotnet run --project src/EnrichmentRelay.Sandbox -- --port 5081</c>. Every
/// <see cref="SandboxOptions"/> setting also comes from the <c>Sandbox</c> section (e.g. <c>Sandbox__Port</c>,
/// <c>Sandbox__ListenAddress=0.0.0.0</c>, <c>Sandbox__PreceptApiKey</c>, <c>Sandbox__WoodpeckerApiKey</c>, <c>Sandbox__LanceApiKey</c>).
/// </summary>
public static class SandboxProgram
{
    public const string Section = "Sandbox";

    public static async Task Main(string[] args)
    {
        var config = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var options = new SandboxOptions { Port = 5081 };
        config.GetSection(Section).Bind(options);
        options.Port = config.GetValue("port", options.Port);

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
