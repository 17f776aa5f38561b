using System.Text.Json;

namespace EnrichmentRelay.Serialization;

/// <summary>The relay's one JSON shape: camelCase, read case-insensitively (the enums carry their own converters).</summary>
public static class RelayJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
