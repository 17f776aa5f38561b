using System.Text.Json;
using System.Text.Json.Serialization;

namespace EnrichmentRelay.Sandbox;

/// <summary>The JSON shared by every simulator's control API: camelCase, enums as camelCase strings.</summary>
static class ControlJson
{
    // Unknown fields are refused: a typo must be a 400, not a silent no-op.
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Reads a control body whatever its content type (curl -d sends a form type); a bad one is described, not thrown.</summary>
    public static async Task<(T? Body, Dictionary<string, string[]> Problems)> ReadAsync<T>(HttpRequest request) where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, Options, request.HttpContext.RequestAborted);
            return body is null ? (null, new() { ["body"] = ["A JSON object is required."] }) : (body, []);
        }
        catch (JsonException e)
        {
            return (null, new() { ["body"] = [e.Message] });
        }
    }
}
