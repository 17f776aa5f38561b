using System.Text.Json;

namespace EnrichmentRelay.Benchmarks.Infrastructure;

/// <summary>The relay's JIT settings as its build wrote them into its runtimeconfig.json: stated beside the CPU figures they shape.</summary>
public static class RelayJit
{
    static readonly (string Key, string Name, bool Default)[] Settings =
    [
        ("System.Runtime.TieredCompilation", "tiered compilation", true),
        ("System.Runtime.TieredCompilation.QuickJit", "quick JIT", true),
        ("System.Runtime.TieredPGO", "tiered PGO", true),
    ];

    public static string Describe()
    {
        var path = Path.ChangeExtension(Binaries.Relay, ".runtimeconfig.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var properties = doc.RootElement.GetProperty("runtimeOptions").TryGetProperty("configProperties", out var p) ? p : default;
        return string.Join(", ", Settings.Select(s =>
        {
            var on = properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(s.Key, out var value) ? value.GetBoolean() : s.Default;
            return $"{s.Name} {(on ? "on" : "off")}";
        }));
    }
}
