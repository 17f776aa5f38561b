using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EnrichmentRelay.Messaging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EnrichmentRelay.Tests.Messaging;

/// <summary>Bus:Uri, Bus:Host(s), credentials and TLS: what the relay connects with, and what start-up refuses.</summary>
public sealed class BrokerConnectionTests
{
    static BusOptions Rabbit(Action<BusOptions> set)
    {
        var options = new BusOptions { Transport = BusTransport.RabbitMq };
        set(options);
        return options;
    }

    [Fact]
    public void AnAmqpsUriGivesHostPortVirtualHostAndDecodedCredentials()
    {
        var broker = BrokerConnection.From(Rabbit(o => o.Uri = "amqps://relay%40team:p%40ss%2Fw%C3%B6rd%3A1@rabbit.example.com:5673/prod%2Feu"));

        Assert.Equal([new BrokerNode("rabbit.example.com", 5673)], broker.Nodes);
        Assert.Equal("prod/eu", broker.VirtualHost);
        Assert.Equal("relay@team", broker.Username);
        Assert.Equal("p@ss/wörd:1", broker.Password);
        Assert.True(broker.UseTls);
        Assert.DoesNotContain("p@ss", broker.ToString());
    }

    [Theory]
    [InlineData("amqp://rabbit", 5672, false, "/")]
    [InlineData("amqps://rabbit", 5671, true, "/")]
    [InlineData("amqp://rabbit/", 5672, false, "/")]
    [InlineData("amqp://rabbit/%2f", 5672, false, "/")]
    [InlineData("amqp://rabbit:5671/v", 5671, true, "v")]
    public void TheUriAloneDecidesPortTlsAndVirtualHost(string uri, int port, bool tls, string virtualHost)
    {
        var broker = BrokerConnection.From(Rabbit(o => o.Uri = uri));
        Assert.Equal((ushort)port, broker.Nodes.Single().Port);
        Assert.Equal(tls, broker.UseTls);
        Assert.Equal(virtualHost, broker.VirtualHost);
        Assert.Equal(("guest", "guest"), (broker.Username, broker.Password));
    }

    [Fact]
    public void AUriWithoutCredentialsTakesThemFromTheirOwnSettings()
    {
        // As platforms often do: the address in one place, the password in a secret store.
        var broker = BrokerConnection.From(Rabbit(o =>
        {
            o.Uri = "amqps://relay@rabbit.internal/relay";
            o.Password = " from the secret store ";
        }));
        Assert.Equal(("relay", " from the secret store "), (broker.Username, broker.Password));
    }

    [Fact]
    public void FurtherHostsFollowTheFirstNodeInOrderWithTheDefaultPortWhereNoneIsGiven()
    {
        var broker = BrokerConnection.From(Rabbit(o =>
        {
            o.Host = "rabbit-0";
            o.Port = 5680;
            o.Hosts = ["rabbit-1", "rabbit-2:5690", "rabbit-0"];
        }));
        Assert.Equal([new BrokerNode("rabbit-0", 5680), new BrokerNode("rabbit-1", 5680), new BrokerNode("rabbit-2", 5690)], broker.Nodes);
        Assert.False(broker.UseTls);
        Assert.Equal(["rabbit-0", "rabbit-1", "rabbit-2"], broker.AcceptedServerNames);
    }

    [Fact]
    public void HostsAloneAreEnoughAndTls5671IsInferredFromThem()
    {
        var broker = BrokerConnection.From(Rabbit(o => o.Hosts = ["10.0.0.1:5671", "10.0.0.2:5671"]));
        Assert.Equal(2, broker.Nodes.Count);
        Assert.True(broker.UseTls);
    }

    public static TheoryData<string, Action<BusOptions>, string[]> Wrong => new()
    {
        { "no broker at all", _ => { }, ["Bus:Host"] },
        { "not an AMQP URI", o => o.Uri = "https://relay:s3cret-pw@rabbit/vhost", ["Bus:Uri"] },
        { "a URI that does not parse", o => o.Uri = "amqp://relay:s3cret-pw@rabbit:notaport/vhost", ["Bus:Uri"] },
        { "URI and Host", o => { o.Uri = "amqp://rabbit"; o.Host = "rabbit"; }, ["Bus:Uri", "Bus:Host"] },
        { "URI and Port", o => { o.Uri = "amqp://rabbit:5672"; o.Port = 5672; }, ["Bus:Uri", "Bus:Port"] },
        { "URI and VirtualHost", o => { o.Uri = "amqp://rabbit/a"; o.VirtualHost = "b"; }, ["Bus:Uri", "Bus:VirtualHost"] },
        { "URI and Password", o => { o.Uri = "amqp://u:s3cret-pw@rabbit"; o.Password = "other"; }, ["Bus:Uri", "Bus:Password"] },
        { "a URI with two path segments", o => o.Uri = "amqp://rabbit/a/b", ["Bus:Uri"] },
        { "a URI with query parameters", o => o.Uri = "amqp://rabbit/v?heartbeat=10", ["Bus:Uri"] },
        { "a host with a port in it", o => o.Host = "rabbit:5672", ["Bus:Host"] },
        { "a malformed further host", o => { o.Host = "rabbit"; o.Hosts = ["rabbit-1:x"]; }, ["Bus:Hosts:0"] },
        { "an IPv6 further host", o => { o.Host = "rabbit"; o.Hosts = ["[::1]:5672"]; }, ["Bus:Hosts:0"] },
        { "TLS off for an amqps URI", o => { o.Uri = "amqps://rabbit"; o.UseTls = false; }, ["Bus:UseTls", "Bus:Uri"] },
        { "TLS off on the TLS port", o => { o.Host = "rabbit"; o.Port = 5671; o.UseTls = false; }, ["Bus:UseTls", "Bus:Port"] },
        { "a CA without TLS", o => { o.Host = "rabbit"; o.TlsCaCertificatePath = "/etc/ca.pem"; }, ["Bus:TlsCaCertificatePath"] },
        { "a server name without TLS", o => { o.Host = "rabbit"; o.TlsServerName = "rabbit"; }, ["Bus:TlsServerName"] },
        { "a CA file that is not there", o => { o.Uri = "amqps://rabbit"; o.TlsCaCertificatePath = "/nonexistent/ca.pem"; }, ["Bus:TlsCaCertificatePath"] },
        { "a client certificate password alone", o => { o.Uri = "amqps://rabbit"; o.TlsClientCertificatePassword = "s3cret-pw"; }, ["Bus:TlsClientCertificatePassword"] },
    };

    [Theory]
    [MemberData(nameof(Wrong))]
    public void WrongSettingsAreNamedAndNeverQuoteThePassword(string why, Action<BusOptions> set, string[] named)
    {
        var problems = BrokerConnection.Check(Rabbit(set));

        Assert.True(problems.Count > 0, why);
        var text = string.Join("\n", problems.Select(p => p.ErrorMessage));
        Assert.All(named, setting => Assert.Contains(setting, text));
        Assert.DoesNotContain("s3cret-pw", text);
        Assert.Throws<InvalidOperationException>(() => BrokerConnection.From(Rabbit(set)));
    }

    [Fact]
    public void QuorumQueuesNeedRabbitMq()
    {
        var options = new BusOptions { QueueType = BusQueueType.Quorum };
        var problems = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();
        Assert.Contains(problems, p => p.ErrorMessage!.StartsWith("Bus:QueueType", StringComparison.Ordinal));
    }

    [Fact]
    public void TlsFilesAreReadAtStartUpAndAWrongPasswordIsNamedNotShown()
    {
        using var files = new CertificateFiles();
        var broker = BrokerConnection.From(Rabbit(o =>
        {
            o.Uri = "amqps://localhost";
            o.TlsCaCertificatePath = files.CaPath;
            o.TlsClientCertificatePath = files.ClientPath;
            o.TlsClientCertificatePassword = files.ClientPassword;
        }));
        Assert.Equal(files.Ca.Thumbprint, Assert.Single(broker.TlsCaCertificates!).Thumbprint);
        Assert.True(broker.TlsClientCertificate!.HasPrivateKey);

        var problems = BrokerConnection.Check(Rabbit(o =>
        {
            o.Uri = "amqps://localhost";
            o.TlsClientCertificatePath = files.ClientPath;
            o.TlsClientCertificatePassword = "s3cret-pw-wrong";
        }));
        var problem = Assert.Single(problems).ErrorMessage!;
        Assert.Contains("Bus:TlsClientCertificatePassword", problem);
        Assert.DoesNotContain("s3cret-pw-wrong", problem);

        var notACertificate = Path.Combine(files.Directory, "ca.txt");
        File.WriteAllText(notACertificate, "not a certificate");
        Assert.Contains("Bus:TlsCaCertificatePath", Assert.Single(BrokerConnection.Check(Rabbit(o =>
        {
            o.Uri = "amqps://localhost";
            o.TlsCaCertificatePath = notACertificate;
        }))).ErrorMessage);
    }

    [Fact]
    public void ACertificateIsTrustedOnlyFromTheGivenCaAndForAnAcceptedName()
    {
        using var ca = Authority("test CA");
        using var otherCa = Authority("other CA");
        using var server = Leaf(ca, "localhost", IPAddress.Loopback);
        using var stranger = Leaf(otherCa, "localhost", IPAddress.Loopback);
        var trusted = new X509Certificate2Collection(ca);

        bool Check(X509Certificate2 certificate, string[] names, X509Certificate2Collection? authorities, SslPolicyErrors errors = SslPolicyErrors.None) =>
            new BrokerCertificateCheck(authorities, names, NullLogger.Instance).Validate(this, certificate, null, errors);

        Assert.True(Check(server, ["localhost"], trusted));
        Assert.True(Check(server, ["127.0.0.1"], trusted));
        // Several nodes: the certificate may be any one's (the relay cannot tell which node a connection reached).
        Assert.True(Check(server, ["rabbit-1", "localhost"], trusted));
        Assert.False(Check(server, ["rabbit.example.com"], trusted));
        Assert.False(Check(stranger, ["localhost"], trusted));
        // With the system's roots, the platform's chain verdict decides; a name mismatch it reports is checked here instead.
        Assert.True(Check(server, ["localhost"], null, SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(Check(server, ["localhost"], null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(new BrokerCertificateCheck(trusted, ["localhost"], NullLogger.Instance).Validate(this, null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
    }

    static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    static X509Certificate2 Leaf(X509Certificate2 issuer, string dnsName, IPAddress address, string usage = "1.3.6.1.5.5.7.3.1")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(dnsName);
        names.AddIpAddress(address);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        using var signed = request.Create(issuer, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>A CA (PEM) and a client certificate with its key (PKCS#12) in a temp directory.</summary>
    sealed class CertificateFiles : IDisposable
    {
        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("relay-tls-").FullName;
        public X509Certificate2 Ca { get; } = Authority("files CA");
        public string CaPath => Path.Combine(Directory, "ca.pem");
        public string ClientPath => Path.Combine(Directory, "client.p12");
        public string ClientPassword { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(8));

        public CertificateFiles()
        {
            File.WriteAllText(CaPath, Ca.ExportCertificatePem());
            using var client = Leaf(Ca, "relay-client", IPAddress.Loopback, "1.3.6.1.5.5.7.3.2");
            File.WriteAllBytes(ClientPath, client.Export(X509ContentType.Pkcs12, ClientPassword));
        }

        public void Dispose()
        {
            Ca.Dispose();
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
