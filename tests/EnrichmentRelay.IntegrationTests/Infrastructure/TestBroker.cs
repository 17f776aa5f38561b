namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// The RabbitMQ a scenario runs on: the test node (<see cref="Node"/>), the outage tests' node (<see cref="OutageNode"/>) or the three-node test cluster
/// (<see cref="Cluster"/>, infra/rabbitmq/cluster.sh), with the relay's settings to reach it.
/// </summary>
public sealed record TestBroker(
    IReadOnlyList<(string Host, ushort Port)> Nodes, string User, string Password, Func<string[], Task<string>> Ctl, bool QuorumQueues)
{
    public static TestBroker Node => new([(TestEnvironment.RabbitHost, TestEnvironment.RabbitPort)], TestEnvironment.RabbitUser,
        TestEnvironment.RabbitPassword, args => TestEnvironment.RabbitCtlAsync(args), false);

    /// <summary>The outage tests' own node (<see cref="TestEnvironment.Outage"/>), which they stop and start.</summary>
    public static TestBroker OutageNode => new([(TestEnvironment.Outage.RabbitHost, TestEnvironment.Outage.RabbitPort)],
        TestEnvironment.Outage.RabbitUser, TestEnvironment.Outage.RabbitPassword,
        args => TestEnvironment.RunAsync(TestEnvironment.Outage.RabbitCtl, args), false);

    /// <summary>The three nodes, with the relay's (and the subscriber's) queues as quorum queues, replicated over them.</summary>
    public static TestBroker Cluster => new(TestEnvironment.ClusterHosts, TestEnvironment.ClusterUser, TestEnvironment.ClusterPassword,
        args => TestEnvironment.ClusterAsync(["ctl", "1", .. args]), true);

    /// <summary>A virtual host of its own per test, so no test sees another's queues or leftovers.</summary>
    public async Task<string> NewVirtualHostAsync()
    {
        var vhost = $"it-{Guid.NewGuid():N}";
        await Ctl(["add_vhost", vhost]);
        await Ctl(["set_permissions", "-p", vhost, User, ".*", ".*", ".*"]);
        return vhost;
    }

    /// <summary>The relay's Bus settings for this broker: the first node as Bus:Host, the others as Bus:Hosts.</summary>
    public IReadOnlyDictionary<string, string> RelaySettings(string vhost)
    {
        var settings = new Dictionary<string, string>
        {
            ["Bus__Transport"] = "RabbitMq",
            ["Bus__Host"] = Nodes[0].Host,
            ["Bus__Port"] = Nodes[0].Port.ToString(),
            ["Bus__VirtualHost"] = vhost,
            ["Bus__Username"] = User,
            ["Bus__Password"] = Password,
        };
        for (var i = 1; i < Nodes.Count; i++)
            settings[$"Bus__Hosts__{i - 1}"] = $"{Nodes[i].Host}:{Nodes[i].Port}";
        if (QuorumQueues)
            settings["Bus__QueueType"] = "Quorum";
        return settings;
    }
}
