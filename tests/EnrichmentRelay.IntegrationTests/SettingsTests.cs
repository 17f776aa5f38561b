using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Wrong or contradictory settings stop the relay before it takes work: exit code 78 and one line per
/// problem naming the setting, no stack trace. No broker or database is needed: the relay never gets that far.
/// </summary>
[Collection(RelayCollection.Name)]
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

    public static TheoryData<string, Dictionary<string, string>, string[]> Cases => new()
    {
        { "RabbitMQ without a host", With(Sandboxed, ("Bus__Transport", "RabbitMq")), ["Bus:Host"] },
        { "a transport that does not exist", With(Sandboxed, ("Bus__Transport", "Rabbit")), ["Bus:Transport"] },
        {
            // The URI holds the password: the message names the setting and never shows the value.
            "a broker URI that is not AMQP",
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Bus__Uri", "https://relay:s3cret-pw@rabbit.example.com/relay")),
            ["Bus:Uri"]
        },
        {
            "a broker URI and a broker host at once",
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Bus__Uri", "amqps://relay:s3cret-pw@rabbit.example.com/relay"), ("Bus__Host", "rabbit")),
            ["Bus:Uri", "Bus:Host"]
        },
        {
            "TLS switched off for an amqps URI",
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Bus__Uri", "amqps://rabbit.example.com"), ("Bus__UseTls", "false")),
            ["Bus:UseTls", "Bus:Uri"]
        },
        {
            "a CA certificate file that is not there",
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Bus__Uri", "amqps://rabbit.example.com"), ("Bus__TlsCaCertificatePath", "/nonexistent/ca.pem")),
            ["Bus:TlsCaCertificatePath"]
        },
        {
            "a cluster node that is not host or host:port",
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Bus__Host", "rabbit-0"), ("Bus__Hosts__0", "rabbit-1:port")),
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
            With(Sandboxed, ("Bus__Transport", "RabbitMq"), ("Relay__PublicBaseUrl", "relay"), ("Providers__Precept__SweepInterval", "00:00:00")),
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

    static Dictionary<string, string> With(Dictionary<string, string> baseline, params (string Key, string Value)[] changes)
    {
        var settings = new Dictionary<string, string>(baseline);
        foreach (var (key, value) in changes)
            settings[key] = value;
        return settings;
    }
}
