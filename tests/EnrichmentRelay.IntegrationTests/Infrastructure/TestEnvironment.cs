using System.Diagnostics;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// The brokers and databases that infra/test.sh started for this run. The tests never start their own
/// and never touch a developer's broker: without these variables they fail with a clear message.
/// </summary>
public static class TestEnvironment
{
    public static string RabbitHost => Required("RELAY_TEST_RABBITMQ_HOST");
    public static ushort RabbitPort => ushort.Parse(Required("RELAY_TEST_RABBITMQ_PORT"));
    public static string RabbitUser => Required("RELAY_TEST_RABBITMQ_USER");
    public static string RabbitPassword => Required("RELAY_TEST_RABBITMQ_PASSWORD");
    public static string RabbitCtl => Required("RELAY_TEST_RABBITMQCTL");
    public static string PostgresAdmin => Required("RELAY_TEST_POSTGRES");
    public static string PgCtl => Required("RELAY_TEST_PG_CTL");
    public static string PgKill => Required("RELAY_TEST_PG_KILL");

    /// <summary>
    /// The outage tests' own RabbitMQ node and PostgreSQL cluster (infra/test.sh starts them beside the shared pair): they
    /// stop, crash and kill these, so they run at the same time as the other tests.
    /// </summary>
    public static class Outage
    {
        public static string RabbitHost => Required("RELAY_TEST_OUTAGE_RABBITMQ_HOST");
        public static ushort RabbitPort => ushort.Parse(Required("RELAY_TEST_OUTAGE_RABBITMQ_PORT"));
        public static string RabbitUser => Required("RELAY_TEST_OUTAGE_RABBITMQ_USER");
        public static string RabbitPassword => Required("RELAY_TEST_OUTAGE_RABBITMQ_PASSWORD");
        public static string RabbitCtl => Required("RELAY_TEST_OUTAGE_RABBITMQCTL");
        public static string PostgresAdmin => Required("RELAY_TEST_OUTAGE_POSTGRES");
        public static string PgCtl => Required("RELAY_TEST_OUTAGE_PG_CTL");
        public static string PgKill => Required("RELAY_TEST_OUTAGE_PG_KILL");
    }
    /// <summary>The test node's TLS listener (same broker, same users), and the certificates of infra/rabbitmq/tls.sh.</summary>
    public static ushort RabbitTlsPort => ushort.Parse(Required("RELAY_TEST_RABBITMQ_TLS_PORT"));
    public static string RabbitTlsDirectory => Required("RELAY_TEST_RABBITMQ_TLS_DIR");

    /// <summary>The three nodes of the test cluster (infra/rabbitmq/cluster.sh, started by infra/test-cluster.sh), node 1 first.</summary>
    public static IReadOnlyList<(string Host, ushort Port)> ClusterHosts => Required("RELAY_TEST_CLUSTER_HOSTS").Split(',')
        .Select(node => node.Split(':')).Select(parts => (parts[0], ushort.Parse(parts[1]))).ToList();
    public static string ClusterUser => Required("RELAY_TEST_CLUSTER_USER");
    public static string ClusterPassword => Required("RELAY_TEST_CLUSTER_PASSWORD");

    static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Integration tests need the RabbitMQ node and PostgreSQL cluster that infra/test.sh starts: run infra/test.sh " +
                "(the tests of category Cluster need the three-node RabbitMQ cluster: run infra/test-cluster.sh).");

    /// <summary>Runs rabbitmqctl against the test node, e.g. to create an isolated virtual host; returns what it printed.</summary>
    public static Task<string> RabbitCtlAsync(params string[] arguments) => RunAsync(RabbitCtl, arguments);

    /// <summary>infra/rabbitmq/cluster.sh on the test cluster: <c>kill 1</c>, <c>restart 1</c>, <c>ctl 2 list_queues</c>...</summary>
    public static Task<string> ClusterAsync(params string[] arguments) => RunAsync(Required("RELAY_TEST_CLUSTER"), arguments);

    /// <summary>Runs a command line the test scripts exported (rabbitmqctl, pg_ctl...) with these arguments; returns what it printed.</summary>
    internal static async Task<string> RunAsync(string prefix, string[] arguments)
    {
        var command = prefix + " " + string.Join(" ", arguments.Select(a => $"'{a}'"));
        using var process = Process.Start(new ProcessStartInfo("bash", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{command} failed: {await stdout} {await stderr}");
        return await stdout;
    }

    /// <summary>A virtual host of its own per test, so no test sees another's queues or leftovers.</summary>
    public static Task<string> NewVirtualHostAsync() => TestBroker.Node.NewVirtualHostAsync();

    /// <summary>Each queue of a virtual host with its type (classic, quorum) and arguments, as rabbitmqctl lists them.</summary>
    public static async Task<IReadOnlyDictionary<string, (string Type, string Arguments)>> QueuesAsync(string vhost, TestBroker? broker = null)
    {
        var listing = await (broker ?? TestBroker.Node).Ctl(["list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "type", "arguments"]);
        return listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Where(cells => cells.Length >= 3)
            .ToDictionary(cells => cells[0], cells => (cells[1], cells[2]));
    }
}
