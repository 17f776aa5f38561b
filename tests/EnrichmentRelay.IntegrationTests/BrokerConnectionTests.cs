using System.Net;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// The broker as platforms hand it out: one amqps:// URI with the credentials in it, a private CA, a client
/// certificate; against the test node's TLS listener (infra/rabbitmq/start.sh, certificates from infra/rabbitmq/tls.sh).
/// </summary>
[RunsLong(90)]
public sealed class BrokerConnectionTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <summary>RelayScenario names the test broker by Bus:Host and friends; a URI replaces all of them.</summary>
    static readonly Dictionary<string, string> NoSeparateBrokerSettings = new()
    {
        ["Bus__Host"] = "",
        ["Bus__Port"] = "",
        ["Bus__VirtualHost"] = "",
        ["Bus__Username"] = "",
        ["Bus__Password"] = "",
    };

    static string Tls(string file) => Path.Combine(TestEnvironment.RabbitTlsDirectory, file);

    [Fact]
    public async Task TheRelayConnectsWithAnAmqpsUriCarryingItsCredentialsAndAClientCertificateAndNeverLogsThePassword()
    {
        // A user of its own, with a password that must be percent-encoded in a URI.
        var user = $"relay-uri-{Guid.NewGuid():N}"[..20];
        var password = $"p@ss/w%rd: {Guid.NewGuid():N}";
        var clientPassword = await File.ReadAllTextAsync(Tls("client.password"));
        await TestEnvironment.RabbitCtlAsync("add_user", user, password);
        try
        {
            var settings = new Dictionary<string, string>(NoSeparateBrokerSettings)
            {
                ["Bus__TlsCaCertificatePath"] = Tls("ca.pem"),
                ["Bus__TlsClientCertificatePath"] = Tls("client.p12"),
                ["Bus__TlsClientCertificatePassword"] = clientPassword,
                // Debug, to be strict: more than an operator would run.
                ["Logging__LogLevel__Default"] = "Debug",
            };
            await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite, sandbox => sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(100),
                settings, forVirtualHost: async vhost =>
                {
                    await TestEnvironment.RabbitCtlAsync("set_permissions", "-p", vhost, user, ".*", ".*", ".*");
                    return new Dictionary<string, string>
                    {
                        ["Bus__Uri"] = $"amqps://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@localhost:{TestEnvironment.RabbitTlsPort}/{vhost}",
                    };
                });
            try
            {
                var requests = Enumerable.Range(0, 3).Select(Leads.Mixed).ToList();
                await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
                await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);
                scenario.AssertEachCompletedOnceAndChargedOnce(requests);

                // The relay's connection: over TLS, as that user, presenting the client certificate.
                var connections = (await TestEnvironment.RabbitCtlAsync("list_connections", "-q", "--no-table-headers", "user", "ssl", "ssl_protocol", "peer_cert_subject"))
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(c => c[0] == user).ToList();
                var connection = Assert.Single(connections);
                Assert.Equal("true", connection[1]);
                Assert.Contains("CN=relay-test-client", connection[3]);

                var log = scenario.Relay.LogText;
                Assert.Contains($"RabbitMQ at amqps://{user}@localhost:{TestEnvironment.RabbitTlsPort}/", log);
                string[] secrets = [password, Uri.EscapeDataString(password), clientPassword];
                Assert.All(secrets, secret => Assert.DoesNotContain(secret, log));
                output.WriteLine($"[figure] broker by amqps:// URI: {requests.Count} requests completed over {connection[2]} with client certificate " +
                                 $"{connection[3]}; {log.Length:N0} characters of Debug log searched, 0 broker or certificate passwords in them");
            }
            catch
            {
                output.WriteLine(scenario.Relay.LogTail(200));
                throw;
            }
        }
        finally
        {
            await TestEnvironment.RabbitCtlAsync("delete_user", user);
        }
    }

    public static TheoryData<string, string, string> Untrusted => new()
    {
        { "a certificate from a CA the relay was not told to trust", "other-ca.pem", "is not trusted" },
        { "a certificate for another name than the one expected", "ca.pem", "is for none of rabbit.example.com" },
    };

    [Theory]
    [MemberData(nameof(Untrusted))]
    public async Task TheRelayRefusesABrokerWhoseCertificateItCannotTrustAndIsNotReady(string why, string caFile, string logged)
    {
        var vhost = await TestEnvironment.NewVirtualHostAsync();
        var database = await TestDatabase.CreateAsync(Engine.Sqlite);
        var settings = new Dictionary<string, string>(database.Settings)
        {
            ["Bus__Transport"] = "RabbitMq",
            ["Bus__Uri"] = $"amqps://{TestEnvironment.RabbitUser}:{TestEnvironment.RabbitPassword}@localhost:{TestEnvironment.RabbitTlsPort}/{vhost}",
            ["Bus__TlsCaCertificatePath"] = Tls(caFile),
            ["Relay__ClientApiKey"] = RelayScenario.ClientKey,
            ["Sandbox__Enabled"] = "true",
        };
        if (caFile == "ca.pem")
            settings["Bus__TlsServerName"] = "rabbit.example.com";
        await using var relay = await RelayProcess.StartAsync(settings, waitUntilReady: false);
        try
        {
            await Eventually.TrueAsync(() => relay.LogText.Contains(logged), Deadline, $"the relay to refuse {why}");
            using var ready = await relay.Http.GetAsync("health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("0", (await TestEnvironment.RabbitCtlAsync("list_connections", "-q", "--no-table-headers", "vhost"))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l == vhost).ToString());
            output.WriteLine($"[figure] broker TLS refused ({why}): not ready, no connection, logged: " +
                             relay.LogText.Split('\n').First(l => l.Contains(logged)).Trim());
        }
        catch
        {
            output.WriteLine(relay.LogTail(100));
            throw;
        }
        finally
        {
            database.Delete();
        }
    }
}
