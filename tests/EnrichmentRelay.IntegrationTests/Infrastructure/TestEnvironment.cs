using System.Diagnostics;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// The broker and database that infra/test.sh started for this run. The tests never start their own
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

    static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Integration tests need the RabbitMQ node and PostgreSQL cluster that infra/test.sh starts: run infra/test.sh.");

    /// <summary>Runs rabbitmqctl against the test node, e.g. to create an isolated virtual host.</summary>
    public static Task RabbitCtlAsync(params string[] arguments) => RunAsync(RabbitCtl, arguments);

    /// <summary>Runs pg_ctl against the test cluster (as the right user), e.g. to restart it.</summary>
    public static Task PgCtlAsync(params string[] arguments) => RunAsync(PgCtl, arguments);

    static async Task RunAsync(string prefix, string[] arguments)
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
    }

    /// <summary>A virtual host of its own per test, so no test sees another's queues or leftovers.</summary>
    public static async Task<string> NewVirtualHostAsync()
    {
        var vhost = $"it-{Guid.NewGuid():N}";
        await RabbitCtlAsync("add_vhost", vhost);
        await RabbitCtlAsync("set_permissions", "-p", vhost, RabbitUser, ".*", ".*", ".*");
        return vhost;
    }
}
