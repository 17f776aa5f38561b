using System.Security.Cryptography;
using MassTransit;

namespace EnrichmentRelay.Contracts;

/// <summary>
/// Exactly one per request, and later a correction only if an operator re-normalized the request's stored provider
/// answers and its result changed (<see cref="Revision"/> 2, 3, …, each naming the event it <see cref="Supersedes"/>).
/// <see cref="EventId"/> is derived from <see cref="RequestId"/> and <see cref="Revision"/>, so a re-published event
/// carries the same id and subscribers can recognise it.
/// </summary>
[MessageUrn(ExchangeNames.EnrichmentCompleted)]
[EntityName(ExchangeNames.EnrichmentCompleted)]
[FaultEntityName(ExchangeNames.FaultPrefix + ExchangeNames.EnrichmentCompleted + ExchangeNames.FaultSuffix)]
public record EnrichmentCompleted
{
    /// <summary>
    /// <see cref="EventIdFor(Guid, int)"/>(<see cref="RequestId"/>, <see cref="Revision"/>), also the MassTransit MessageId:
    /// deduplicate on it.
    /// </summary>
    public Guid EventId { get; init; }

    /// <summary>
    /// 1 for the request's first completion; 2, 3, … for each correction published after its stored provider answers were
    /// translated again (<c>POST /admin/renormalize</c>) and its result changed. A correction replaces what every earlier
    /// revision said of the request; credits are never charged again.
    /// </summary>
    public int Revision { get; init; } = 1;

    /// <summary>
    /// The <see cref="EventId"/> of the revision this one replaces (revision n - 1); null for the first. A subscriber that
    /// holds the event with that id replaces its data with this one's.
    /// </summary>
    public Guid? Supersedes { get; init; }

    /// <summary>The <see cref="EnrichmentRequested.RequestId"/> this answers.</summary>
    public Guid RequestId { get; init; }

    /// <summary>
    /// The provider of the last attempt (in a waterfall, the last one tried; <see cref="Contacts"/> says which found
    /// what); null when the request was rejected before routing.
    /// </summary>
    public ProviderName? Provider { get; init; }

    /// <summary>How the request ended.</summary>
    public Outcome Outcome { get; init; }

    /// <summary>Emails found, by every provider tried (empty unless <see cref="Outcome.Found"/>).</summary>
    public IReadOnlyList<string> Emails { get; init; } = [];

    /// <summary>Phone numbers found, by every provider tried (empty unless <see cref="Outcome.Found"/>).</summary>
    public IReadOnlyList<string> Phones { get; init; } = [];

    /// <summary>The provider's id of the job or task that handled the request, when it has one.</summary>
    public string? ProviderJobId { get; init; }

    /// <summary>Why, for every outcome but <see cref="Outcome.Found"/>.</summary>
    public string? Detail { get; init; }

    /// <summary>
    /// Credits the providers charged for this request, summed over its attempts, when they say (Woodpecker, Lance);
    /// null when none did.
    /// </summary>
    public decimal? CreditsCharged { get; init; }

    /// <summary>The request's <see cref="EnrichmentRequested.CorrelationData"/>, verbatim.</summary>
    public IReadOnlyDictionary<string, string> CorrelationData { get; init; } = new Dictionary<string, string>();

    /// <summary>When the relay accepted the request.</summary>
    public DateTimeOffset RequestedAt { get; init; }

    /// <summary>When the request reached its outcome.</summary>
    public DateTimeOffset CompletedAt { get; init; }

    /// <summary>Each try at a provider, in order.</summary>
    public IReadOnlyList<ProviderAttempt> Attempts { get; init; } = [];

    /// <summary>
    /// Every email and phone of <see cref="Emails"/> and <see cref="Phones"/>, each with the provider that found it
    /// (a waterfall asks each provider only for the fields still missing).
    /// </summary>
    public IReadOnlyList<FoundContact> Contacts { get; init; } = [];

    /// <summary>Providers of the request's order that were not tried because they cannot identify this lead, and why.</summary>
    public IReadOnlyList<SkippedProvider> Skipped { get; init; } = [];

    // A fixed namespace for the name-based (RFC 4122 version 5) ids below; never change it, or
    // re-published events stop matching their first publication.
    static readonly Guid EventIdNamespace = new("6f1d7c9e-2b4a-4f0e-9c3d-8a5b1e7f2d40");

    /// <summary>The event id for a request: the same request id always gives the same event id.</summary>
    /// <param name="requestId">The request's <see cref="EnrichmentRequested.RequestId"/>.</param>
    public static Guid EventIdFor(Guid requestId) => NameBasedGuid.Create(EventIdNamespace, requestId.ToString("D"));

    /// <summary>
    /// The event id of a request's <paramref name="revision"/>: revision 1 is <see cref="EventIdFor(Guid)"/>, a later one
    /// is name-based on the request id and the revision, so a re-publication of one correction keeps its id.
    /// </summary>
    /// <param name="requestId">The request's <see cref="EnrichmentRequested.RequestId"/>.</param>
    /// <param name="revision">The revision, from 1.</param>
    public static Guid EventIdFor(Guid requestId, int revision)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1);
        return revision == 1 ? EventIdFor(requestId) : NameBasedGuid.Create(EventIdNamespace, $"{requestId:D}/revision/{revision}");
    }
}

/// <summary>One try at one provider.</summary>
public record ProviderAttempt
{
    /// <summary>The provider tried.</summary>
    public ProviderName Provider { get; init; }

    /// <summary>How this try ended; null while it is open.</summary>
    public Outcome? Outcome { get; init; }

    /// <summary>The provider's id of the job or task.</summary>
    public string? ProviderJobId { get; init; }

    /// <summary>When the lead was submitted to the provider.</summary>
    public DateTimeOffset? SubmittedAt { get; init; }

    /// <summary>When this try ended.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>Why, for any outcome but found.</summary>
    public string? Detail { get; init; }

    /// <summary>The fields this try asked for (in a waterfall, those still missing), each with how it ended; empty while open.</summary>
    public IReadOnlyList<FieldOutcome> Fields { get; init; } = [];

    /// <summary>Credits this try was charged, when the provider says per lead (Woodpecker, Lance); null when unknown.</summary>
    public decimal? CreditsCharged { get; init; }

    /// <summary>
    /// True when no call was made: the answer came from the relay's identity cache (what <see cref="Provider"/> found for
    /// the same person earlier) or from an identical request in flight at the same time (<see cref="Detail"/> names it).
    /// Such a try charges 0 credits.
    /// </summary>
    public bool FromCache { get; init; }
}

/// <summary>How one asked field ended in one try.</summary>
public record FieldOutcome
{
    /// <summary>The field asked for.</summary>
    public EnrichmentField Field { get; init; }

    /// <summary>
    /// <see cref="Outcome.Found"/> when this try found it, <see cref="Outcome.NotFound"/> when the provider looked and
    /// found nothing for it, else the try's own outcome (failed, timed out, …).
    /// </summary>
    public Outcome Outcome { get; init; }
}

/// <summary>One email or phone number, with the provider that found it.</summary>
public record FoundContact
{
    /// <summary>Which field it answers.</summary>
    public EnrichmentField Field { get; init; }

    /// <summary>The email address or phone number.</summary>
    public string Value { get; init; } = "";

    /// <summary>The provider whose try found it.</summary>
    public ProviderName Provider { get; init; }
}

/// <summary>A provider of the request's order that was passed over.</summary>
public record SkippedProvider
{
    /// <summary>The provider passed over.</summary>
    public ProviderName Provider { get; init; }

    /// <summary>Why: what the lead lacks for it (or that it is not enabled in this relay).</summary>
    public string Reason { get; init; } = "";
}

/// <summary>RFC 4122 version 5 (SHA-1, name-based) GUIDs: deterministic ids from a namespace and a name.</summary>
public static class NameBasedGuid
{
    /// <summary>The version 5 GUID of <paramref name="name"/> in <paramref name="namespace"/> (as Python's <c>uuid5</c>).</summary>
    /// <param name="namespace">The namespace id.</param>
    /// <param name="name">The name, hashed as UTF-8.</param>
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
