using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>One relay on the test broker for the publisher-facing checks, started once for all of them.</summary>
public sealed class PublisherRelay : IAsyncLifetime
{
    public RelayScenario Scenario { get; private set; } = null!;

    /// <summary>The AMQP URL a user would give the examples: this scenario's broker, user and virtual host.</summary>
    public string AmqpUrl =>
        $"amqp://{Uri.EscapeDataString(TestEnvironment.RabbitUser)}:{Uri.EscapeDataString(TestEnvironment.RabbitPassword)}@" +
        $"{TestEnvironment.RabbitHost}:{TestEnvironment.RabbitPort}/{Uri.EscapeDataString(Scenario.Settings["Bus__VirtualHost"])}";

    public async Task InitializeAsync() => Scenario = await RelayScenario.StartAsync(Engine.Sqlite);

    public async Task DisposeAsync() => await Scenario.DisposeAsync();
}

/// <summary>
/// What a publisher relies on, against a relay on the test broker. examples/ run as a user runs them (their own
/// processes, only an AMQP URL given): each publishes one request and must receive its completion; the .NET one is
/// built against the contracts package that infra/test.sh packed, from a local folder feed beside the usual package
/// source. docs/asyncapi.yaml passes the AsyncAPI parser, and the queues and bindings it describes are the broker's.
/// </summary>
public sealed class PublisherTests(PublisherRelay relay, ITestOutputHelper output) : IClassFixture<PublisherRelay>
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);
    static string Examples => Path.Combine(RelayProcess.RepositoryRoot, "examples");

    [Fact]
    public async Task TheDotnetExampleBuiltAgainstThePackedContractsPackageGetsItsCompletion()
    {
        var feed = Environment.GetEnvironmentVariable("RELAY_TEST_PACKAGE_FEED") is { Length: > 0 } set
            ? set
            : throw new InvalidOperationException("RELAY_TEST_PACKAGE_FEED is not set: run infra/test.sh, which packs the contracts into a local feed.");
        var version = XDocument.Load(Path.Combine(RelayProcess.RepositoryRoot, "Directory.Build.props")).Descendants("VersionPrefix").Single().Value.Trim();
        var package = Path.Combine(feed, $"EnrichmentRelay.Contracts.{version}.nupkg");
        Assert.True(File.Exists(package), $"{package} is missing: infra/test.sh packs it");
        var project = Path.Combine(Examples, "dotnet", "EnrichmentExample.csproj");
        // A user copies the example as it is: it names the release it was written for.
        Assert.Equal(version, XDocument.Load(project).Descendants("PackageReference")
            .Single(r => (string?)r.Attribute("Include") == "EnrichmentRelay.Contracts").Attribute("Version")!.Value);

        var clock = Stopwatch.StartNew();
        // The feed is added to the usual source, as a publisher's CI would add its own.
        await Succeeds("dotnet", ["restore", project, "--force", $"-p:RestoreAdditionalProjectSources={feed}"]);
        await Succeeds("dotnet", ["build", project, "-c", "Release", "--no-restore", "-nologo"]);
        var built = clock.Elapsed;
        var binaries = Path.Combine(Examples, "dotnet", "bin", "Release", "net10.0");
        // What it was built with is the packed assembly, not something restored from elsewhere.
        Assert.Equal(PackedAssemblyHash(package), Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(binaries, "EnrichmentRelay.Contracts.dll")))));

        var ran = await RunExampleAsync("dotnet", [Path.Combine(binaries, "EnrichmentExample.dll")]);
        output.WriteLine($"[figure] examples/dotnet (MassTransit, EnrichmentRelay.Contracts {version} from the packed .nupkg): " +
                              $"restored and built in {built.TotalSeconds:0.0} s, {ran}");
    }

    [Fact]
    public async Task TheNodeExampleGetsItsCompletion()
    {
        var directory = Path.Combine(Examples, "node");
        Assert.True(Directory.Exists(Path.Combine(directory, "node_modules", "amqplib")),
            "examples/node/node_modules is missing: run infra/test.sh (it runs npm ci there) or npm ci in examples/node");
        var ran = await RunExampleAsync("node", [Path.Combine(directory, "enrich.js")]);
        output.WriteLine($"[figure] examples/node (amqplib, raw JSON): {ran}");
    }

    [Fact]
    public async Task ThePythonExampleGetsItsCompletion()
    {
        // Debian's python3 with Debian's python3-pika (infra/test.sh installs it), whatever python3 is first on PATH.
        const string python = "/usr/bin/python3";
        Assert.True(Directory.Exists("/usr/lib/python3/dist-packages/pika"), "python3-pika is missing: run infra/test.sh, which installs it");
        var ran = await RunExampleAsync(python, [Path.Combine(Examples, "python", "enrich.py")]);
        output.WriteLine($"[figure] examples/python (pika, raw JSON): {ran}");
    }

    [Fact]
    public async Task TheAsyncApiDocumentPassesTheParserAndDescribesTheBrokersQueuesAndBindings()
    {
        var validator = Path.Combine(RelayProcess.RepositoryRoot, "infra", "asyncapi");
        Assert.True(Directory.Exists(Path.Combine(validator, "node_modules", "@asyncapi", "parser")),
            "infra/asyncapi/node_modules is missing: run infra/test.sh (it runs npm ci there) or npm ci in infra/asyncapi");
        var (exitCode, printed) = await ChildCommand.RunAsync("node", ["validate.mjs", Path.Combine(RelayProcess.RepositoryRoot, "docs", "asyncapi.yaml")],
            validator, TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, printed);
        var parsed = JsonNode.Parse(printed.Trim().Split('\n')[^1])!;
        Assert.Equal("3.0.0", (string?)parsed["version"]);

        // The document the relay serves, against what MassTransit declared on the broker for it.
        var document = JsonNode.Parse(await relay.Scenario.Relay.Http.GetStringAsync("asyncapi.json"))!;
        var channels = document["channels"]!.AsObject().Select(c => c.Value!).ToList();
        var described = channels.SelectMany(c => c["x-rabbitmq-bindings"]?.AsArray() ?? [])
            .Select(b => ((string)b!["source"]!, (string)b["destination"]!, (string)b["destinationKind"]!)).ToHashSet();
        var describedQueues = channels.Where(c => (string?)c["bindings"]!["amqp"]!["is"] == "queue").Select(c => (string)c["address"]!).ToHashSet();
        var virtualHost = relay.Scenario.Settings["Bus__VirtualHost"];
        var bindings = (await RabbitCtlRowsAsync("list_bindings", "-p", virtualHost, "source_name", "destination_name", "destination_kind"))
            .Select(r => (r[0], r[1], r[2])).ToHashSet();
        var queues = (await RabbitCtlRowsAsync("list_queues", "-p", virtualHost, "name", "durable", "auto_delete", "arguments"))
            .Where(r => !r[0].StartsWith("it-subscriber-", StringComparison.Ordinal) && !r[0].Contains("_bus_", StringComparison.Ordinal))
            .ToDictionary(r => r[0]);

        Assert.Subset(bindings, described);
        Assert.Equal(describedQueues.Order(), queues.Keys.Where(q => !q.Contains("_error") && !q.Contains("_skipped") && !q.Contains("_delay_")).Order());
        // As documented: durable, not auto-deleted, no arguments (so a producer can declare the queue the same way).
        Assert.All(describedQueues, q => Assert.Equal(["true", "false", "[]"], queues[q][1..]));
        output.WriteLine($"[figure] AsyncAPI: docs/asyncapi.yaml passes @asyncapi/parser ({parsed["channels"]!.AsArray().Count} channels, " +
                         $"{parsed["operations"]} operations, {parsed["messages"]} messages); its {describedQueues.Count} queues and " +
                         $"{described.Count} bindings are those the relay declared on the broker");
    }

    static async Task<List<string[]>> RabbitCtlRowsAsync(params string[] arguments)
    {
        var command = TestEnvironment.RabbitCtl + " " + string.Join(' ', arguments.Select(a => $"'{a}'")) + " --quiet --no-table-headers";
        var (exitCode, printed) = await ChildCommand.RunAsync("bash", ["-c", command], RelayProcess.RepositoryRoot, TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, printed);
        return printed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t')).ToList();
    }

    /// <summary>Runs an example to its end; it must exit 0 having received the completion of the request it published.</summary>
    async Task<string> RunExampleAsync(string program, string[] arguments)
    {
        var clock = Stopwatch.StartNew();
        var (exitCode, printed) = await ChildCommand.RunAsync(program, arguments, Examples, Deadline,
            new Dictionary<string, string> { ["AMQP_URL"] = relay.AmqpUrl, ["TIMEOUT_SECONDS"] = "90" });
        Assert.True(exitCode == 0, $"{program} exited {exitCode}:\n{printed}\n{relay.Scenario.Relay.LogTail(40)}");
        var published = Regex.Match(printed, @"published EnrichmentRequested (?<id>[0-9a-f-]{36})");
        Assert.True(published.Success, printed);
        var requestId = Guid.Parse(published.Groups["id"].Value);
        Assert.Matches($@"completed {requestId}: outcome=found provider=precept emails=\S*@", printed);
        // The relay's own subscriber on the same broker heard the same one completion.
        await relay.Scenario.Bus.WaitForCompletionsAsync([requestId], TimeSpan.FromSeconds(30));
        Assert.Single(relay.Scenario.Bus.Completions[requestId]);
        return $"published one request and received its completion (found) in {clock.Elapsed.TotalSeconds:0.0} s";
    }

    async Task Succeeds(string program, string[] arguments)
    {
        var (exitCode, printed) = await ChildCommand.RunAsync(program, arguments, RelayProcess.RepositoryRoot, Deadline);
        Assert.True(exitCode == 0, $"{program} {string.Join(' ', arguments)} exited {exitCode}:\n{printed}");
    }

    static string PackedAssemblyHash(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        using var stream = zip.GetEntry("lib/net10.0/EnrichmentRelay.Contracts.dll")!.Open();
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
