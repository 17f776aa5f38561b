using System.ComponentModel.DataAnnotations;
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

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        // Providers dial it from outside: an absolute http(s) URL (on Linux "/relay" would parse as a file:// URI).
        if (PublicBaseUrl is not null && !(Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var url)
                                           && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp)))
            yield return new ValidationResult($"Relay:PublicBaseUrl must be an absolute http(s) URL such as https://relay.example.com, got '{PublicBaseUrl}'.",
                [nameof(PublicBaseUrl)]);
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
