using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Hosting;

public sealed class RelayOptions : IValidatableObject
{
    public const string Section = "Relay";

    /// <summary>
    /// The address providers use to call us back (Precept's webhookUrl). Needed behind a proxy or in a
    /// container; without it the relay uses the first address it listens on.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>
    /// The reverse proxies whose <c>X-Forwarded-For</c>, <c>-Proto</c> and <c>-Host</c> the relay believes:
    /// addresses (<c>10.0.0.5</c>) or networks (<c>10.0.0.0/8</c>). Empty, the default: none, so a caller
    /// cannot choose its own address (the webhook rate limit is per client address).
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>
    /// How long a normal stop (SIGTERM) may take: polling and new provider calls stop at once, work in
    /// progress (a submit and the recording of its answer, outbox rows read, a callback being applied)
    /// finishes within this, then the bus stops. Give the container platform a longer grace period.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (PublicBaseUrl is not null
            && !(Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var url)
                 && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
                 && string.IsNullOrEmpty(url.Query) && string.IsNullOrEmpty(url.Fragment)))
            yield return new ValidationResult(
                $"Relay:PublicBaseUrl must be an absolute http or https URL without query or fragment, got '{PublicBaseUrl}'.", [nameof(PublicBaseUrl)]);
        foreach (var proxy in TrustedProxies.Where(p => ParseNetwork(p) is null))
            yield return new ValidationResult(
                $"Relay:TrustedProxies entries must be IP addresses or networks such as 10.0.0.0/8, got '{proxy}'.", [nameof(TrustedProxies)]);
        if (ShutdownTimeout < TimeSpan.FromSeconds(1) || ShutdownTimeout > TimeSpan.FromMinutes(10))
            yield return new ValidationResult("Relay:ShutdownTimeout must be between 1 second and 10 minutes.", [nameof(ShutdownTimeout)]);
    }

    /// <summary>An address is a network of one (/32 or /128); null when <paramref name="entry"/> is neither.</summary>
    internal static IPNetwork? ParseNetwork(string? entry)
    {
        var text = entry?.Trim();
        if (IPNetwork.TryParse(text, out var network))
            return network;
        return IPAddress.TryParse(text, out var address) ? new IPNetwork(address, address.GetAddressBytes().Length * 8) : null;
    }
}

/// <summary>Where the relay can be reached from outside, for callback URLs.</summary>
public sealed class PublicUrls(IServer server, IOptions<RelayOptions> options)
{
    public Uri BaseUrl
    {
        get
        {
            if (options.Value.PublicBaseUrl is { } configured)
                return new Uri(configured.TrimEnd('/') + "/");
            var listening = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
                ?? throw new InvalidOperationException("Relay:PublicBaseUrl is not set and the server is not listening yet.");
            // A wildcard bind address is not something a caller can dial.
            var dialable = listening.Replace("://+", "://localhost").Replace("://*", "://localhost")
                .Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost");
            return new Uri(dialable.TrimEnd('/') + "/");
        }
    }
}
