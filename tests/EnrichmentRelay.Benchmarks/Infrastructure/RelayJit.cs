using System.Text.Json;

namespace EnrichmentRelay.Benchmarks.Infrastructure;

/// <summary>
/// The relay's JIT and thread-pool settings as its build wrote them into its runtimeconfig.json: stated beside the CPU
/// figures they shape.
/// </summary>
public static class RelayJit
{
    static readonly (string Key, string Name, bool Default)[] Settings =
    [
        ("System.Runtime.TieredCompilation", "tiered compilation", true),
        ("System.Runtime.TieredCompilation.QuickJit", "quick JIT", true),
        ("System.Runtime.TieredPGO", "tiered PGO", true),
    ];

    const string SpinLimit = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";

    public static string Describe()
    {
        var path = Path.ChangeExtension(Binaries.Relay, ".runtimeconfig.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var properties = doc.RootElement.GetProperty("runtimeOptions").TryGetProperty("configProperties", out var p) ? p : default;
        var jit = Settings.Select(s =>
        {
            var on = properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(s.Key, out var value) ? value.GetBoolean() : s.Default;
            return $"{s.Name} {(on ? "on" : "off")}";
        });
        // The runtime's default when the build sets none.
        var spin = properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(SpinLimit, out var limit) ? limit.GetInt32().ToString() : "default";
        return string.Join(", ", jit.Append($"thread-pool spin limit {spin}"));
    }
}
