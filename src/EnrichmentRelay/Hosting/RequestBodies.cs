using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Hosting;

/// <summary>A request body read as <typeparamref name="T"/>, or the answer that says what is wrong with it.</summary>
public sealed record JsonBody<T>(T? Value, ProblemHttpResult? Problem) where T : class;

/// <summary>
/// Request bodies read by the relay itself rather than by minimal-API binding, so that every bad body gets the same
/// answer in every environment (binding throws in Development and answers an empty 400 elsewhere): 415 for another
/// content type, 413 over the limit, and 400 ProblemDetails whose <c>errors</c> name the JSON path and the problem.
/// </summary>
public static partial class RequestBodies
{
    /// <summary>Reads the request's body, at most <paramref name="maxBytes"/>; null when it is longer.</summary>
    public static async Task<byte[]?> ReadBoundedAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        if (request.ContentLength is not { } length)
            return await ReadBoundedAsync(request.Body, maxBytes, ct);
        if (length > maxBytes)
            return null;
        // Its length declared (the server holds the client to it): one array of that size, no growing copies; a
        // Precept job's callback can be hundreds of kilobytes.
        var bytes = new byte[length];
        await request.Body.ReadExactlyAsync(bytes, ct);
        return bytes;
    }

    /// <summary>Reads at most <paramref name="maxBytes"/>; null when the body is longer.</summary>
    public static async Task<byte[]?> ReadBoundedAsync(Stream body, long maxBytes, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    public static async Task<JsonBody<T>> ReadJsonAsync<T>(HttpRequest request, long maxBytes, CancellationToken ct) where T : class
    {
        if (!request.HasJsonContentType())
            return new(null, TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported content type",
                detail: $"Send the body as JSON (Content-Type: application/json), not '{request.ContentType ?? "none"}'."));
        if (await ReadBoundedAsync(request, maxBytes, ct) is not { } bytes)
            return new(null, TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
                detail: $"Request bodies are limited to {maxBytes} bytes (Relay:MaxIntakeBodyBytes)."));
        if (bytes.Length == 0)
            return Invalid<T>("$", "The body is empty: send a JSON object.");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            return Invalid<T>("$", $"The body is not valid JSON: {WithoutPosition(e.Message)} (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
        using (document)
        {
            try
            {
                return document.Deserialize<T>(RelayJson.Options) is { } value
                    ? new(value, null)
                    : Invalid<T>("$", ExpectedAt<T>("$"));
            }
            catch (JsonException e)
            {
                var path = e.Path ?? "$";
                return Invalid<T>(Key(path), ExpectedAt<T>(path));
            }
            catch (InvalidOperationException e) when (e.Source == "System.Text.Json")
            {
                // A string that is not valid UTF-8 fails only when it is read.
                return Invalid<T>("$", $"The body cannot be read as JSON text: {e.Message}");
            }
        }
    }

    static JsonBody<T> Invalid<T>(string key, string message) where T : class =>
        new(null, TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { [key] = [message] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The body could not be read.",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        }));

    /// <summary>The path as the validation errors name fields: <c>fields[0]</c>, <c>lead.firstName</c>; the body itself is <c>$</c>.</summary>
    static string Key(string path) => path == "$" ? path : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    /// <summary>What the contract expects at <paramref name="path"/>, found by walking the serializer's own view of the type.</summary>
    static string ExpectedAt<T>(string path)
    {
        JsonTypeInfo? info = RelayJson.Options.GetTypeInfo(typeof(T));
        foreach (Match segment in PathSegment().Matches(path))
        {
            if (info is null)
                break;
            if (segment.Groups["index"].Success || info.Kind == JsonTypeInfoKind.Dictionary)
            {
                info = info.ElementType is { } element ? RelayJson.Options.GetTypeInfo(element) : null;
                continue;
            }
            var name = segment.Groups["name"].Value;
            var property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            info = property is null ? null : RelayJson.Options.GetTypeInfo(property.PropertyType);
        }
        var field = path == "$" ? "The body" : $"'{Key(path)}'";
        return info is null ? $"{field} has the wrong type." : $"{field} must be {Describe(info)}.";
    }

    static string Describe(JsonTypeInfo info)
    {
        var type = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        if (type.IsEnum)
            return "one of: " + string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.CamelCase.ConvertName));
        if (type == typeof(Guid))
            return "a GUID such as 3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11";
        if (type == typeof(string))
            return "a string";
        if (type == typeof(bool))
            return "true or false";
        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
            return "a date and time (ISO 8601)";
        if (type == typeof(int) || type == typeof(long))
            return "a whole number";
        if (type.IsPrimitive || type == typeof(decimal))
            return "a number";
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => "an array",
            JsonTypeInfoKind.Dictionary => "a JSON object of " + (info.ElementType == typeof(string) ? "string values" : "values"),
            JsonTypeInfoKind.Object => "a JSON object",
            _ => "of another type",
        };
    }

    static string WithoutPosition(string message) => message.Split(" LineNumber:", 2)[0].Split(" Path:", 2)[0].TrimEnd(' ', '|');

    [GeneratedRegex(@"\.(?<name>[^.\[]+)|\['(?<name>(?:[^']|'')*)'\]|\[(?<index>\d+)\]")]
    private static partial Regex PathSegment();
}
