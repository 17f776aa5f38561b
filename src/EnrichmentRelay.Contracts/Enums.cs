using System.Text.Json;
using System.Text.Json.Serialization;

namespace EnrichmentRelay.Contracts;

/// <summary>What a caller wants found for a lead.</summary>
[JsonConverter(typeof(CamelCaseEnumConverter<EnrichmentField>))]
public enum EnrichmentField
{
    /// <summary>Work email addresses.</summary>
    Email,

    /// <summary>Phone numbers.</summary>
    Phone,
}

/// <summary>The providers the relay can route a lead to.</summary>
[JsonConverter(typeof(CamelCaseEnumConverter<ProviderName>))]
public enum ProviderName
{
    /// <summary>Precept AI: submits jobs of up to 1,000 leads and calls the relay back.</summary>
    Precept,

    /// <summary>Woodpecker Lead Finder: emails only, polled.</summary>
    Woodpecker,

    /// <summary>Lance: by Lance person id, polled.</summary>
    Lance,
}

/// <summary>
/// The closed set of ways a request can end. A timeout or a provider error is never reported as
/// <see cref="NotFound"/>: NotFound means the provider looked and found nothing.
/// </summary>
[JsonConverter(typeof(CamelCaseEnumConverter<Outcome>))]
public enum Outcome
{
    /// <summary>At least one email or phone was found.</summary>
    Found,

    /// <summary>The provider looked and found nothing.</summary>
    NotFound,

    /// <summary>The provider failed (an error status, a failed task); <c>Detail</c> says what it answered.</summary>
    Failed,

    /// <summary>The request was invalid, or the provider refused the input; <c>Detail</c> lists the reasons.</summary>
    Rejected,

    /// <summary>The provider account has no credits left for this request.</summary>
    InsufficientCredits,

    /// <summary>No result came within the provider's deadline.</summary>
    TimedOut,
}

/// <summary>
/// Enum values travel as camelCase strings and are read case-insensitively, whatever serializer
/// settings the bus or the web host use; the attribute keeps the wire format in the contract itself.
/// </summary>
/// <typeparam name="TEnum">The enum written and read.</typeparam>
public sealed class CamelCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase, allowIntegerValues: false)
    where TEnum : struct, Enum;
