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
        // A setting the build leaves out is the runtime's default.
        JsonElement? Set(string key) => properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(key, out var value) ? value : null;
        var jit = Settings.Select(s => $"{s.Name} {(Set(s.Key)?.GetBoolean() ?? s.Default ? "on" : "off")}");
        var spin = Set(SpinLimit)?.GetInt32().ToString() ?? "default";
        return string.Join(", ", jit.Append($"thread-pool spin limit {spin}"));
    }
}
