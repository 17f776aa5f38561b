using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Wrong or contradictory settings stop the relay before it takes work: exit code 78 and one line per
/// problem naming the setting, no stack trace. No broker or database is needed: the relay never gets that far.
/// </summary>
public sealed class SettingsTests(ITestOutputHelper output)
{
    const int ExitConfig = 78;

    // No provider with an address of its own is configured, so the embedded sandbox stands in for all three.
    static readonly Dictionary<string, string> Sandboxed = [];

    // Only Precept, at a real-looking address of its own: "outside the sandbox".
    static readonly Dictionary<string, string> PreceptOnly = new()
    {
        ["Providers__Precept__BaseUrl"] = "https://api.preceptai.co.uk",
        ["Providers__Precept__ApiKey"] = "pt_test",
        ["Providers__Woodpecker__Enabled"] = "false",
        ["Providers__Lance__Enabled"] = "false",
    };

    // On RabbitMQ, with the intake protected and the simulators asked for: what a RabbitMQ case needs besides its point.
    static readonly Dictionary<string, string> OnRabbitMq = new()
    {
        ["Bus__Transport"] = "RabbitMq",
        ["Bus__Host"] = "rabbit.internal",
        ["Relay__ClientApiKey"] = "client-key-0123456789abcdefghijklmnopq",
        ["Sandbox__Enabled"] = "true",
    };

    public static TheoryData<string, Dictionary<string, string>, string[]> Cases => new()
    {
        { "RabbitMQ without a host", With(OnRabbitMq, ("Bus__Host", "")), ["Bus:Host"] },
        {
            // The sandbox no longer stands in on its own outside the local mode: no simulated results reach real subscribers.
            "RabbitMQ with no provider address",
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Bus__Host", "rabbit.internal"), ("Relay__ClientApiKey", OnRabbitMq["Relay__ClientApiKey"])),
            ["Providers:Precept:BaseUrl", "Providers:Precept:ApiKey", "Providers:Woodpecker:BaseUrl", "Providers:Woodpecker:ApiKey", "Providers:Lance:BaseUrl", "Providers:Lance:ApiKey"]
        },
        { "RabbitMQ with the intake open to whoever reaches the webhook", With(OnRabbitMq, ("Relay__ClientApiKey", "")), ["Relay:ClientApiKey"] },
        { "a client key too short to resist guessing", With(Sandboxed, ("Relay__ClientApiKey", "short-key")), ["Relay:ClientApiKey"] },
        { "an admin key too short to resist guessing", With(Sandboxed, ("Admin__ApiKey", "0123456789abcdef0123456789")), ["Admin:ApiKey"] },
        { "a webhook listener without a port", With(Sandboxed, ("Relay__WebhookUrls", "http://+")), ["Relay:WebhookUrls"] },
        {
            // A rule for one provider used to outrank the pinned category; now it is refused, naming itself.
            "a logging rule that would write webhook paths (and their tokens)",
            With(Sandboxed, ("Logging__Console__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics", "Information"),
                ("Logging__LogLevel__Microsoft.AspNetCore.Routing.Matching", "Debug")),
            ["Logging:Console:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics", "Logging:LogLevel:Microsoft.AspNetCore.Routing.Matching"]
        },
        { "a transport that does not exist", With(Sandboxed, ("Bus__Transport", "Rabbit")), ["Bus:Transport"] },
        {
            // The URI holds the password: the message names the setting and never shows the value.
            "a broker URI that is not AMQP",
            With(OnRabbitMq, ("Bus__Host", ""), ("Bus__Uri", "https://relay:s3cret-pw@rabbit.example.com/relay")),
            ["Bus:Uri"]
        },
        {
            "a broker URI and a broker host at once",
            With(OnRabbitMq, ("Bus__Uri", "amqps://relay:s3cret-pw@rabbit.example.com/relay")),
            ["Bus:Uri", "Bus:Host"]
        },
        {
            "TLS switched off for an amqps URI",
            With(OnRabbitMq, ("Bus__Host", ""), ("Bus__Uri", "amqps://rabbit.example.com"), ("Bus__UseTls", "false")),
            ["Bus:UseTls", "Bus:Uri"]
        },
        {
            "a CA certificate file that is not there",
            With(OnRabbitMq, ("Bus__Host", ""), ("Bus__Uri", "amqps://rabbit.example.com"), ("Bus__TlsCaCertificatePath", "/nonexistent/ca.pem")),
            ["Bus:TlsCaCertificatePath"]
        },
        {
            "a cluster node that is not host or host:port",
            With(OnRabbitMq, ("Bus__Hosts__0", "rabbit-1:port")),
            ["Bus:Hosts:0"]
        },
        { "quorum queues on the in-memory bus", With(Sandboxed, ("Bus__QueueType", "Quorum")), ["Bus:QueueType"] },
        { "Precept enabled without its key, no sandbox", With(PreceptOnly, ("Providers__Precept__ApiKey", "")), ["Providers:Precept:ApiKey"] },
        {
            "Woodpecker at its own address without a key while the sandbox serves the others",
            With(Sandboxed, ("Sandbox__Enabled", "true"), ("Providers__Woodpecker__BaseUrl", "https://api.woodpecker.co/rest/")),
            ["Providers:Woodpecker:ApiKey"]
        },
        {
            "every provider needs an address once one has its own",
            With(PreceptOnly, ("Providers__Woodpecker__Enabled", "true"), ("Providers__Lance__Enabled", "true")),
            ["Providers:Woodpecker:BaseUrl", "Providers:Woodpecker:ApiKey", "Providers:Lance:BaseUrl", "Providers:Lance:ApiKey"]
        },
        { "a provider address that is a path", With(PreceptOnly, ("Providers__Precept__BaseUrl", "/precept")), ["Providers:Precept:BaseUrl"] },
        { "a public base URL without a scheme", With(Sandboxed, ("Relay__PublicBaseUrl", "relay.example.com")), ["Relay:PublicBaseUrl"] },
        { "a public base URL that is not http", With(Sandboxed, ("Relay__PublicBaseUrl", "ftp://relay.example.com")), ["Relay:PublicBaseUrl"] },
        {
            "PostgreSQL with a SQLite connection string",
            With(Sandboxed, ("Ledger__Engine", "Postgres"), ("Ledger__ConnectionString", "Data Source=relay.db")),
            ["Ledger:ConnectionString"]
        },
        {
            "SQLite with a PostgreSQL connection string",
            With(Sandboxed, ("Ledger__ConnectionString", "Host=db;Database=relay;Username=relay;Password=s3cret-pw")),
            ["Ledger:ConnectionString"]
        },
        { "a batch larger than Precept takes", With(PreceptOnly, ("Providers__Precept__BatchSize", "5000")), ["Providers:Precept:BatchSize"] },
        { "a negative price for a Lance enrichment", With(Sandboxed, ("Providers__Lance__CreditsPerEnrichment", "-1")), ["Providers:Lance:CreditsPerEnrichment"] },
        {
            // A lost submit must not be given up on while Precept may still be creating its job.
            "Precept's reconcile window shorter than a submit can last",
            With(PreceptOnly, ("Providers__Precept__ReconcileAfter", "00:01:00"), ("Providers__Precept__RequestTimeout", "00:00:30")),
            ["Providers:Precept:ReconcileAfter", "Providers:Precept:RequestTimeout"]
        },
        {
            "Woodpecker's reconcile window shorter than a submit can last",
            With(Sandboxed, ("Providers__Woodpecker__ReconcileAfter", "00:00:10"), ("Providers__Woodpecker__RequestTimeout", "00:00:05")),
            ["Providers:Woodpecker:ReconcileAfter", "Providers:Woodpecker:RequestTimeout"]
        },
        {
            "several problems at once, each on its line",
            With(OnRabbitMq, ("Bus__Host", ""), ("Relay__PublicBaseUrl", "relay"), ("Providers__Precept__SweepInterval", "00:00:00")),
            ["Bus:Host", "Relay:PublicBaseUrl", "Providers:Precept:SweepInterval"]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task WrongSettingsStopTheRelayWithOneLineNamingEach(string why, Dictionary<string, string> settings, string[] named)
    {
        var (exitCode, printed) = await RelayProcess.RunToExitAsync(settings, TimeSpan.FromSeconds(30));
        output.WriteLine($"{why}:\n{printed}");

        Assert.Equal(ExitConfig, exitCode);
        var problems = printed.Split('\n').Where(l => l.StartsWith("Invalid setting: ", StringComparison.Ordinal)).ToList();
        static bool Names(string line, string setting) =>
            line.StartsWith($"Invalid setting: {setting} ", StringComparison.Ordinal)
            || line.StartsWith($"Invalid setting: {setting}:", StringComparison.Ordinal)
            || line.Contains($"'{setting}'", StringComparison.Ordinal);
        // Each setting on exactly one line, and no line without one (a rule about two settings names both on its line).
        foreach (var setting in named)
            Assert.Single(problems, p => Names(p, setting));
        Assert.All(problems, p => Assert.Contains(named, setting => Names(p, setting)));
        Assert.DoesNotContain("   at ", printed);          // no stack trace
        Assert.DoesNotContain("Unhandled exception", printed);
        Assert.DoesNotContain("s3cret-pw", printed);        // a connection string's password is never echoed
    }

    [Fact]
    public async Task ProvidersSwitchedOffNeedNoSettings()
    {
        // The Precept-only baseline of the cases above is complete: the relay starts (and is stopped here).
        var settings = With(PreceptOnly, ("Ledger__ConnectionString", $"Data Source={Path.Combine(Path.GetTempPath(), $"relay-settings-{Guid.NewGuid():N}.db")}"));
        await using var relay = await RelayProcess.StartAsync(settings);
        Assert.DoesNotContain("Invalid setting", relay.LogText);
    }

    [Fact]
    public async Task TheDocumentedRealPreceptCommandPassesTheSettingsCheck()
    {
        // The command as docs/configuration.md prints it, run by bash from the checkout, with --check-settings added:
        // every setting it gives is read and checked as at a real start, and nothing is connected to.
        var page = await File.ReadAllTextAsync(Path.Combine(RelayProcess.RepositoryRoot, "docs", "configuration.md"));
        var heading = page.IndexOf("\n## Using the real Precept API\n", StringComparison.Ordinal);
        Assert.True(heading >= 0, "docs/configuration.md has no section '## Using the real Precept API'");
        var section = page[heading..];
        var start = section.IndexOf("```bash\n", StringComparison.Ordinal) + "```bash\n".Length;
        var command = section[start..section.IndexOf("\n```", start, StringComparison.Ordinal)];
        const string run = "dotnet run --project src/EnrichmentRelay";
        Assert.EndsWith(run, command.TrimEnd());
        var configuration = new DirectoryInfo(Path.GetDirectoryName(RelayProcess.RelayBinary())!).Parent!.Name;
        var checkOnly = command.TrimEnd()[..^run.Length] + $"{run} --no-build -c {configuration} -- --check-settings";

        var bash = new System.Diagnostics.ProcessStartInfo("bash", ["-c", checkOnly])
        {
            WorkingDirectory = RelayProcess.RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The command's secrets come from the caller's environment.
        bash.Environment["RELAY_CLIENT_KEY"] = "readme-client-key-0123456789abcdefghij";
        using var process = System.Diagnostics.Process.Start(bash)!;
        var printed = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        output.WriteLine($"{checkOnly}\n{printed}");

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("Settings are valid.", printed);
        Assert.DoesNotContain("Invalid setting", printed);
    }

    [Fact]
    public async Task TheDefaultLedgerIsCreatedInTheCurrentDirectoryByDotnetRun()
    {
        // The README's run command, from another folder than the project's: the SQLite file lands where it was run.
        var here = Directory.CreateTempSubdirectory("relay-cwd-");
        var port = RelayProcess.FreePort();
        var configuration = new DirectoryInfo(Path.GetDirectoryName(RelayProcess.RelayBinary())!).Parent!.Name;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet",
            ["run", "--project", Path.Combine(RelayProcess.RepositoryRoot, "src", "EnrichmentRelay"), "--no-build", "-c", configuration, "--", "--urls", $"http://127.0.0.1:{port}"])
        {
            WorkingDirectory = here.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var printed = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) printed.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) printed.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            await Eventually.ReturnsAsync(async () =>
            {
                try { return (await http.GetAsync("health/ready")).IsSuccessStatusCode; }
                catch (HttpRequestException) { return false; }
            }, ready => ready, TimeSpan.FromSeconds(90), "the relay started with dotnet run to be ready");
            Assert.True(File.Exists(Path.Combine(here.FullName, "enrichment-relay.db")), string.Join('\n', printed));
            // Its own settings were still read from beside the binary (appsettings.json quiets EF Core's SQL lines).
            Assert.DoesNotContain(printed, line => line.Contains("Executed DbCommand", StringComparison.Ordinal));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            here.Delete(recursive: true);
        }
    }

    static Dictionary<string, string> With(Dictionary<string, string> baseline, params (string Key, string Value)[] changes)
    {
        var settings = new Dictionary<string, string>(baseline);
        foreach (var (key, value) in changes)
            settings[key] = value;
        return settings;
    }
}
