using System.Text;
using System.Text.Json;
using EnrichmentRelay.Webhooks;

namespace EnrichmentRelay.Tests.Webhooks;

/// <summary>
/// A callback is one JSON value or it is malformed, judged on its bytes; the verdict is the one a parse of the decoded
/// text (what gets stored) gives, including for bytes the reader refuses but the text accepts.
/// </summary>
public sealed class CallbackJsonTests
{
    public static TheoryData<string, byte[]> Bodies() => new()
    {
        { "an object", "{\"enrichment_id\":\"e1\",\"status\":\"completed\",\"results\":[]}"u8.ToArray() },
        { "an array, whitespace around", " [1, 2] \n"u8.ToArray() },
        { "a scalar", "42"u8.ToArray() },
        { "cut short", "{\"enrichment_id\": "u8.ToArray() },
        { "two values", "{} {}"u8.ToArray() },
        { "a trailing comma", "{\"a\":1,}"u8.ToArray() },
        { "a comment", "{\"a\":1 /* x */}"u8.ToArray() },
        { "empty", []},
        { "whitespace only", "  "u8.ToArray() },
        { "a NUL outside a string", "{\"a\":1}\0"u8.ToArray() },
        // The reader refuses these bytes; the decoded text reads as JSON (U+FFFD in a string, a byte-order mark).
        { "invalid UTF-8 in a string", [.. "{\"note\":\""u8, 0xFF, .. "\"}"u8] },
        { "a byte-order mark", [0xEF, 0xBB, 0xBF, .. "{}"u8] },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void TheVerdictOnTheBytesIsTheVerdictOnTheText(string what, byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        bool expected;
        try
        {
            using var _ = JsonDocument.Parse(text);
            expected = true;
        }
        catch (JsonException)
        {
            expected = false;
        }
        Assert.True(expected == PreceptWebhookApi.IsJson(body, text), $"{what}: the text says {(expected ? "JSON" : "not JSON")}");
    }

    [Fact]
    public void TheReferenceVerdictsAreTheExpectedOnes()
    {
        // So that the theory above compares with something: a callback, cut short, two values, invalid UTF-8 in a string.
        Assert.True(PreceptWebhookApi.IsJson("{\"a\":1}"u8.ToArray(), "{\"a\":1}"));
        Assert.False(PreceptWebhookApi.IsJson("{\"a\":"u8.ToArray(), "{\"a\":"));
        Assert.False(PreceptWebhookApi.IsJson("{} {}"u8.ToArray(), "{} {}"));
        byte[] invalid = [.. "{\"note\":\""u8, 0xFF, .. "\"}"u8];
        Assert.True(PreceptWebhookApi.IsJson(invalid, Encoding.UTF8.GetString(invalid)));
    }
}
