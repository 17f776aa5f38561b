using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace EnrichmentRelay.Sandbox;

/// <summary>
/// A population in which a provider finds a share of the contacts, decided per (provider, lead, field) by a seeded
/// hash: each provider finds its own part, independent of the others' and overlapping them as chance has it, the
/// same on every run. A test computes the union several providers allow with <see cref="Finds"/>.
/// </summary>
/// <param name="Share">The part of the (lead, field) pairs found, 0 to 1.</param>
/// <param name="Seed">Another seed gives another population of the same share.</param>
public sealed record FoundShare(double Share, int Seed = 0)
{
    /// <summary>The share of (lead, field) pairs found, 0 to 1.</summary>
    public double Share { get; } = Share is >= 0 and <= 1 ? Share : throw new ArgumentOutOfRangeException(nameof(Share), "Share is 0 to 1.");

    /// <summary>Whether <paramref name="provider"/> finds <paramref name="field"/> of the lead known to it as <paramref name="lead"/>.</summary>
    /// <param name="provider">"lance", "precept" or "woodpecker".</param>
    /// <param name="lead">The key the provider knows the lead by (Lance's person id, Precept's LinkedIn URL, Woodpecker's uid), case-insensitive.</param>
    /// <param name="field">"email" or "phone".</param>
    public bool Finds(string provider, string lead, string field) => Fraction(provider, lead, field, Seed) < Share;

    /// <summary>A number in [0, 1) fixed by its inputs (SHA-256: the same in every process, unlike string hash codes).</summary>
    public static double Fraction(string provider, string lead, string field, int seed)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}|{provider}|{lead.Trim().ToLowerInvariant()}|{field}"), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) / (double)(1UL << 53);
    }
}

/// <summary>
/// The control API's <c>"population"</c>: <c>{"share":0.5,"seed":16}</c> sets a <see cref="FoundShare"/>, <c>{}</c> turns it off
/// (absent, the setting is left as it is).
/// </summary>
public sealed record PopulationUpdate(double? Share, int? Seed)
{
    public bool IsValid => Share is null or (>= 0 and <= 1);

    public FoundShare? ToFoundShare() => Share is { } share ? new FoundShare(share, Seed ?? 0) : null;
}
