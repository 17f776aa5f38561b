using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EnrichmentRelay.Messaging;

/// <summary>One RabbitMQ node the relay may connect to.</summary>
public readonly record struct BrokerNode(string Host, ushort Port)
{
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>
/// Where and how the relay connects to RabbitMQ, resolved from Bus:Uri, Bus:Host, Bus:Hosts, Bus:Port, Bus:VirtualHost,
/// Bus:Username, Bus:Password and the TLS settings. The start-up check and the resolution are the same code, so the
/// relay connects with exactly what the check accepted. Error messages never quote Bus:Uri (it may hold a password).
/// </summary>
public sealed class BrokerConnection
{
    public const ushort AmqpPort = 5672;
    public const ushort AmqpsPort = 5671;
    const string DefaultVirtualHost = "/";
    const string DefaultCredential = "guest";

    /// <summary>The nodes in the order they are tried: Host (or the URI's host) first, then Hosts.</summary>
    public required IReadOnlyList<BrokerNode> Nodes { get; init; }
    public required string VirtualHost { get; init; }
    public required string Username { get; init; }
    public required string Password { get; init; }
    public required bool UseTls { get; init; }
    /// <summary>The name the broker's certificate must carry; null: any configured node's name.</summary>
    public string? TlsServerName { get; init; }
    /// <summary>The CAs to trust instead of the system's roots; null: the system's.</summary>
    public X509Certificate2Collection? TlsCaCertificates { get; init; }
    public X509Certificate2? TlsClientCertificate { get; init; }

    /// <summary>The names a broker certificate may carry: <see cref="TlsServerName"/>, or else every node's host name.</summary>
    public IReadOnlyList<string> AcceptedServerNames =>
        TlsServerName is { } name ? [name] : Nodes.Select(n => n.Host).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Without the credentials: safe to log.</summary>
    public override string ToString() =>
        $"{(UseTls ? "amqps" : "amqp")}://{Username}@{string.Join(",", Nodes)}/{VirtualHost}";

    /// <summary>What is wrong with the RabbitMQ settings, one result per problem naming its setting(s).</summary>
    public static IReadOnlyList<ValidationResult> Check(BusOptions options)
    {
        Resolve(options, out var problems);
        return problems;
    }

    /// <summary>The connection the settings describe; they must have passed <see cref="Check"/>.</summary>
    public static BrokerConnection From(BusOptions options) =>
        Resolve(options, out var problems) is { } connection && problems.Count == 0
            ? connection
            : throw new InvalidOperationException(string.Join(" ", problems.Select(p => p.ErrorMessage)));

    static BrokerConnection? Resolve(BusOptions o, out List<ValidationResult> problems)
    {
        var found = new List<ValidationResult>();
        problems = found;
        void Problem(string message, params string[] settings) => found.Add(new ValidationResult(message, settings));

        var host = Given(o.Host);
        ushort? port = o.Port;
        var virtualHost = Given(o.VirtualHost);
        var username = Secret(o.Username);
        var password = Secret(o.Password);
        var amqps = false;

        if (host is not null && !IsHostName(host))
            Problem("Bus:Host must be a host name or an IP address (the port goes in Bus:Port, several nodes in Bus:Hosts).", nameof(o.Host));

        if (Given(o.Uri) is { } text)
        {
            if (!System.Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(uri.Host))
            {
                Problem("Bus:Uri must look like amqp://host or amqps://user:password@host:port/vhost " +
                        "(its value is not shown: it may hold a password; percent-encode special characters).", nameof(o.Uri));
            }
            else
            {
                amqps = uri.Scheme == "amqps";
                if (host is not null)
                    Problem("Bus:Uri and 'Bus:Host' both name the broker: set one of them (more nodes go in Bus:Hosts).", nameof(o.Uri), nameof(o.Host));
                host = uri.IdnHost.Trim('[', ']');
                if (uri.Port != -1)
                {
                    if (o.Port is not null)
                        Problem("Bus:Uri and 'Bus:Port' both give the port: set one of them.", nameof(o.Uri), nameof(o.Port));
                    port = (ushort)uri.Port;
                }
                var path = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
                if (path.Length > 1)
                    Problem("Bus:Uri may name one virtual host after the host (/vhost, or /%2f for /), nothing more.", nameof(o.Uri));
                else if (path.Length == 1)
                {
                    if (virtualHost is not null)
                        Problem("Bus:Uri and 'Bus:VirtualHost' both give the virtual host: set one of them.", nameof(o.Uri), nameof(o.VirtualHost));
                    virtualHost = System.Uri.UnescapeDataString(path[0]);
                }
                if (uri.Query.Length > 1)
                {
                    var names = uri.Query[1..].Split('&').Select(p => p.Split('=')[0]);
                    Problem($"Bus:Uri: query parameters ({string.Join(", ", names)}) are not read; use the Bus settings (docs/configuration.md).", nameof(o.Uri));
                }
                if (uri.UserInfo.Length > 0)
                {
                    var colon = uri.UserInfo.IndexOf(':');
                    if (username is not null)
                        Problem("Bus:Uri and 'Bus:Username' both give the user: set one of them.", nameof(o.Uri), nameof(o.Username));
                    username = System.Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
                    if (colon >= 0)
                    {
                        if (password is not null)
                            Problem("Bus:Uri and 'Bus:Password' both give the password: set one of them.", nameof(o.Uri), nameof(o.Password));
                        password = System.Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
                    }
                }
            }
        }

        // Further nodes: "host" or "host:port". MassTransit splits them at ':', so IPv6 literals cannot be listed.
        var others = new List<(string Host, ushort? Port)>();
        for (var i = 0; i < (o.Hosts?.Length ?? 0); i++)
        {
            var parts = (o.Hosts![i] ?? "").Trim().Split(':');
            if (parts.Length is 1 or 2 && IsHostName(parts[0])
                && (parts.Length == 1 || (ushort.TryParse(parts[1], out var p) && p > 0)))
                others.Add((parts[0], parts.Length == 2 ? ushort.Parse(parts[1]) : null));
            else
                Problem($"Bus:Hosts:{i} must be host or host:port (a DNS name or an IPv4 address).", nameof(o.Hosts));
        }

        var onTlsPort = port == AmqpsPort || others.Any(n => n.Port == AmqpsPort);
        var useTls = o.UseTls ?? (amqps || onTlsPort);
        if (o.UseTls == false && amqps)
            Problem("Bus:UseTls is false, but 'Bus:Uri' is amqps:// (TLS): make them agree.", nameof(o.UseTls), nameof(o.Uri));
        if (o.UseTls == false && onTlsPort)
            Problem("Bus:UseTls is false, but 'Bus:Port' (or a port in the URI or Bus:Hosts) is 5671, RabbitMQ's TLS port, where MassTransit always uses TLS: make them agree.",
                nameof(o.UseTls), nameof(o.Port));

        var defaultPort = port ?? (useTls ? AmqpsPort : AmqpPort);
        var nodes = (host is null ? [] : new[] { new BrokerNode(host, defaultPort) })
            .Concat(others.Select(n => new BrokerNode(n.Host, n.Port ?? defaultPort)))
            .Distinct()
            .ToList();
        if (nodes.Count == 0 && found.Count == 0)
            Problem("Bus:Host (or Bus:Uri, or Bus:Hosts) is required when Bus:Transport is RabbitMq.", nameof(o.Host));

        var serverName = Given(o.TlsServerName);
        X509Certificate2Collection? authorities = null;
        X509Certificate2? clientCertificate = null;
        if (!useTls)
        {
            foreach (var (setting, value) in new[]
                     {
                         (nameof(o.TlsServerName), o.TlsServerName), (nameof(o.TlsCaCertificatePath), o.TlsCaCertificatePath),
                         (nameof(o.TlsClientCertificatePath), o.TlsClientCertificatePath), (nameof(o.TlsClientCertificatePassword), o.TlsClientCertificatePassword),
                     })
                if (!string.IsNullOrEmpty(value))
                    Problem($"Bus:{setting} applies only with TLS (an amqps:// Bus:Uri, Bus:UseTls true, or port 5671).", setting);
        }
        else
        {
            if (serverName is not null && !IsHostName(serverName))
                Problem("Bus:TlsServerName must be a host name.", nameof(o.TlsServerName));
            if (Given(o.TlsCaCertificatePath) is { } caPath)
                authorities = LoadAuthorities(caPath, Problem);
            if (Given(o.TlsClientCertificatePath) is { } certificatePath)
                clientCertificate = LoadClientCertificate(certificatePath, o.TlsClientCertificatePassword, Problem);
            else if (Secret(o.TlsClientCertificatePassword) is not null)
                Problem("Bus:TlsClientCertificatePassword is set without Bus:TlsClientCertificatePath.", nameof(o.TlsClientCertificatePassword));
        }

        if (found.Count > 0)
            return null;
        return new BrokerConnection
        {
            Nodes = nodes,
            VirtualHost = virtualHost ?? DefaultVirtualHost,
            Username = username ?? DefaultCredential,
            Password = password ?? DefaultCredential,
            UseTls = useTls,
            TlsServerName = serverName,
            TlsCaCertificates = authorities,
            TlsClientCertificate = clientCertificate,
        };
    }

    static X509Certificate2Collection? LoadAuthorities(string path, Action<string, string[]> problem)
    {
        if (!File.Exists(path))
        {
            problem($"Bus:TlsCaCertificatePath: there is no file {path}.", [nameof(BusOptions.TlsCaCertificatePath)]);
            return null;
        }
        try
        {
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(path);
            if (authorities.Count == 0)
                authorities.Add(X509CertificateLoader.LoadCertificateFromFile(path)); // DER
            return authorities;
        }
        catch (CryptographicException)
        {
            problem($"Bus:TlsCaCertificatePath: {path} holds no PEM or DER certificate.", [nameof(BusOptions.TlsCaCertificatePath)]);
            return null;
        }
    }

    static X509Certificate2? LoadClientCertificate(string path, string? password, Action<string, string[]> problem)
    {
        string[] settings = [nameof(BusOptions.TlsClientCertificatePath), nameof(BusOptions.TlsClientCertificatePassword)];
        if (!File.Exists(path))
        {
            problem($"Bus:TlsClientCertificatePath: there is no file {path}.", [nameof(BusOptions.TlsClientCertificatePath)]);
            return null;
        }
        try
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
            if (certificate.HasPrivateKey)
                return certificate;
            problem($"Bus:TlsClientCertificatePath: {path} holds no private key (a PKCS#12 file with the certificate and its key is needed).", [nameof(BusOptions.TlsClientCertificatePath)]);
        }
        catch (CryptographicException)
        {
            problem($"Bus:TlsClientCertificatePath: {path} cannot be opened as PKCS#12 (.p12/.pfx) with 'Bus:TlsClientCertificatePassword'.", settings);
        }
        return null;
    }

    static string? Given(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Credentials are taken as they are: a space may belong to a password.</summary>
    static string? Secret(string? value) => string.IsNullOrEmpty(value) ? null : value;

    static bool IsHostName(string value) => System.Uri.CheckHostName(value) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6;
}
