using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EnrichmentRelay.Tests.Messaging;

/// <summary>
/// JSON documents as block-style YAML and back (docs/asyncapi.yaml is the served /asyncapi.json in YAML). A string
/// stays plain only where no YAML reader could take it for anything else; otherwise it is double-quoted.
/// </summary>
public static partial class YamlJson
{
    public static string ToYaml(JsonNode node)
    {
        var text = new StringBuilder();
        Write(node, 0, text);
        return text.ToString();
    }

    static void Write(JsonNode? node, int indent, StringBuilder text)
    {
        var pad = new string(' ', indent);
        switch (node)
        {
            case JsonObject map:
                foreach (var (key, value) in map)
                {
                    text.Append(pad).Append(Scalar(key)).Append(':');
                    WriteValue(value, indent, text);
                }
                break;
            case JsonArray list:
                foreach (var item in list)
                {
                    text.Append(pad).Append('-');
                    if (item is JsonObject { Count: > 0 } map)
                    {
                        // The first key on the dash's line, the others below it.
                        var inner = new StringBuilder();
                        Write(map, indent + 2, inner);
                        text.Append(' ').Append(inner.ToString()[(indent + 2)..]);
                    }
                    else
                        WriteValue(item, indent, text);
                }
                break;
        }
    }

    static void WriteValue(JsonNode? value, int indent, StringBuilder text)
    {
        switch (value)
        {
            case JsonObject { Count: 0 }:
                text.Append(" {}\n");
                break;
            case JsonArray { Count: 0 }:
                text.Append(" []\n");
                break;
            case JsonObject or JsonArray:
                text.Append('\n');
                Write(value, indent + 2, text);
                break;
            default:
                text.Append(' ').Append(Scalar(value)).Append('\n');
                break;
        }
    }

    static string Scalar(JsonNode? value) => value is null ? "null" : value.GetValueKind() switch
    {
        JsonValueKind.String => Scalar(value.GetValue<string>()),
        _ => value.ToJsonString(),
    };

    static readonly JsonSerializerOptions Quoting = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Scalar(string text) => PlainSafe().IsMatch(text) && !text.Contains(": ") && !text.Contains(" #") && !Reserved().IsMatch(text)
        ? text
        : JsonSerializer.Serialize(text, Quoting); // a JSON string is a YAML double-quoted scalar

    // Starts with a letter, $, / or ( and holds no line break or tab, ends in no colon or space.
    [GeneratedRegex(@"^[A-Za-z$/(][^\n\r\t]*(?<![: ])$")]
    private static partial Regex PlainSafe();

    [GeneratedRegex("^(?:true|false|null|yes|no|on|off|y|n)$", RegexOptions.IgnoreCase)]
    private static partial Regex Reserved();

    /// <summary>Reads YAML as a YAML 1.2 reader types it: quoted scalars are strings; plain ones may be booleans, null or numbers.</summary>
    public static JsonNode? FromYaml(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return ToJson(stream.Documents.Single().RootNode);
    }

    static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: var plain } => plain switch
        {
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            "null" or "~" or "" => null,
            _ when Number().IsMatch(plain!) => JsonNode.Parse(plain!),
            _ => JsonValue.Create(plain),
        },
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    [GeneratedRegex(@"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$")]
    private static partial Regex Number();
}
