using System.Security.Cryptography;

namespace EnrichmentRelay.Contracts;

/// <summary>
/// Exactly one per request. <see cref="EventId"/> is derived from <see cref="RequestId"/>, so a
/// re-published event carries the same id and subscribers can recognise it.
/// </summary>
public record EnrichmentCompleted
{
    public Guid EventId { get; init; }
    public Guid RequestId { get; init; }
    public ProviderName? Provider { get; init; }
    public Outcome Outcome { get; init; }
    public IReadOnlyList<string> Emails { get; init; } = [];
    public IReadOnlyList<string> Phones { get; init; } = [];
    public string? ProviderJobId { get; init; }
    /// <summary>Why, for every outcome but <see cref="Outcome.Found"/>.</summary>
    public string? Detail { get; init; }
    public decimal? CreditsCharged { get; init; }
    public IReadOnlyDictionary<string, string> CorrelationData { get; init; } = new Dictionary<string, string>();
    public DateTimeOffset RequestedAt { get; init; }
    public DateTimeOffset CompletedAt { get; init; }
    public IReadOnlyList<ProviderAttempt> Attempts { get; init; } = [];

    // A fixed namespace for the name-based (RFC 4122 version 5) ids below; never change it, or
    // re-published events stop matching their first publication.
    static readonly Guid EventIdNamespace = new("6f1d7c9e-2b4a-4f0e-9c3d-8a5b1e7f2d40");

    /// <summary>The event id for a request: the same request id always gives the same event id.</summary>
    public static Guid EventIdFor(Guid requestId) => NameBasedGuid.Create(EventIdNamespace, requestId.ToString("D"));
}

/// <summary>One try at one provider.</summary>
public record ProviderAttempt
{
    public ProviderName Provider { get; init; }
    public Outcome? Outcome { get; init; }
    public string? ProviderJobId { get; init; }
    public DateTimeOffset? SubmittedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? Detail { get; init; }
}

/// <summary>RFC 4122 version 5 (SHA-1, name-based) GUIDs: deterministic ids from a namespace and a name.</summary>
public static class NameBasedGuid
{
    public static Guid Create(Guid @namespace, string name)
    {
        Span<byte> input = stackalloc byte[16 + System.Text.Encoding.UTF8.GetMaxByteCount(name.Length)];
        @namespace.TryWriteBytes(input, bigEndian: true, out _);
        var nameLength = System.Text.Encoding.UTF8.GetBytes(name, input[16..]);
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(input[..(16 + nameLength)], hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }
}
