using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
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

    /// <summary>
    /// The largest body <c>POST /enrichments</c> and <c>POST /selections</c> take (413 above it), so one caller cannot
    /// make the relay hold, store and later batch huge rows. The fields have limits of their own.
    /// </summary>
    public int MaxIntakeBodyBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// The key callers of the intake, status and selection routes, <c>/metrics</c> and the API documents send, in the
    /// <c>X-Api-Key</c> header or as <c>Authorization: Bearer</c> (Prometheus can send the latter). The admin key is
    /// accepted too. Unset, those routes are open: fine for local use, refused at start with RabbitMQ unless
    /// <see cref="WebhookUrls"/> keeps the main listener off the internet.
    /// </summary>
    public string? ClientApiKey { get; set; }

    /// <summary>
    /// Listeners of their own for Precept's webhook (<c>http://+:8081</c>; several separated by <c>;</c>): they serve
    /// only <c>/webhooks/precept/{token}</c> and the health probes, so that port alone faces the internet, and the main
    /// listener (<c>ASPNETCORE_URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c>) no longer takes callbacks.
    /// </summary>
    public string? WebhookUrls { get; set; }

    /// <summary>The ports of <see cref="WebhookUrls"/>; empty when it is unset.</summary>
    public IReadOnlySet<int> WebhookPorts => WebhookListenerUrls().Select(url => url.Port).ToHashSet();

    internal IReadOnlyList<BindingAddress> WebhookListenerUrls() =>
        (WebhookUrls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(ParseListenerUrl).OfType<BindingAddress>().ToList();

    /// <summary>An http(s) listening address with a port of its own and no path; null otherwise.</summary>
    static BindingAddress? ParseListenerUrl(string url)
    {
        try
        {
            var address = BindingAddress.Parse(url);
            return address is { IsUnixPipe: false, Port: > 0, PathBase: "" } && (address.Scheme == Uri.UriSchemeHttp || address.Scheme == Uri.UriSchemeHttps)
                   && url.Contains($":{address.Port}", StringComparison.Ordinal) ? address : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        // Checked here rather than by attributes, which would hide every other problem of the section when they fail.
        if (ClientApiKey is { Length: > 0 and < 32 })
            yield return new ValidationResult("Relay:ClientApiKey must be at least 32 characters.", [nameof(ClientApiKey)]);
        if (MaxIntakeBodyBytes is < 4 * 1024 or > 16 * 1024 * 1024)
            yield return new ValidationResult("Relay:MaxIntakeBodyBytes must be between 4096 and 16777216.", [nameof(MaxIntakeBodyBytes)]);
        foreach (var listener in (WebhookUrls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(u => ParseListenerUrl(u) is null))
            yield return new ValidationResult(
                $"Relay:WebhookUrls must be http(s) listening addresses with a port and no path, separated by ';' (such as http://+:8081), got '{listener}'.",
                [nameof(WebhookUrls)]);
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
            // With a webhook listener of its own, that is where Precept calls.
            var webhookPorts = options.Value.WebhookPorts;
            var listening = server.Features.Get<IServerAddressesFeature>()?.Addresses
                                .FirstOrDefault(a => webhookPorts.Count == 0 || webhookPorts.Contains(BindingAddress.Parse(a).Port))
                ?? throw new InvalidOperationException("Relay:PublicBaseUrl is not set and the server is not listening yet.");
            // A wildcard bind address is not something a caller can dial.
            var dialable = listening.Replace("://+", "://localhost").Replace("://*", "://localhost")
                .Replace("://0.0.0.0", "://localhost").Replace("://[::]", "://localhost");
            return new Uri(dialable.TrimEnd('/') + "/");
        }
    }
}
