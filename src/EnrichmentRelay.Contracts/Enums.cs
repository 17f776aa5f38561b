using System.Text.Json;
using System.Text.Json.Serialization;

namespace EnrichmentRelay.Contracts;

/// <summary>What a caller wants found for a lead.</summary>
[JsonConverter(typeof(CamelCaseEnumConverter<EnrichmentField>))]
public enum EnrichmentField
{
    Email,
    Phone,
}

/// <summary>The providers the relay can route a lead to.</summary>
[JsonConverter(typeof(CamelCaseEnumConverter<ProviderName>))]
public enum ProviderName
{
    Precept,
    Woodpecker,
    Lance,
}

/// <summary>
/// The closed set of ways a request can end. A timeout or a provider error is never reported as
/// <see cref="NotFound"/>: NotFound means the provider looked and found nothing.
/// </summary>
[JsonConverter(typeof(CamelCaseEnumConverter<Outcome>))]
public enum Outcome
{
    Found,
    NotFound,
    Failed,
    Rejected,
    InsufficientCredits,
    TimedOut,
}

/// <summary>
/// Enum values travel as camelCase strings and are read case-insensitively, whatever serializer
/// settings the bus or the web host use; the attribute keeps the wire format in the contract itself.
/// </summary>
public sealed class CamelCaseEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase, allowIntegerValues: false)
    where TEnum : struct, Enum;
