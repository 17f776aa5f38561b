using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace EnrichmentRelay.Tests.Architecture;

/// <summary>
/// The relay's folders depend on each other one way (docs/architecture.md): read from the source itself, every
/// <c>using EnrichmentRelay.X</c> and every fully qualified <c>EnrichmentRelay.X.</c> reference of a file in folder F is
/// an arrow F → X.
/// </summary>
public sealed partial class FolderDependencyTests(ITestOutputHelper output)
{
    static readonly string Source = Path.Combine(RepositoryRoot(), "src", "EnrichmentRelay");

    /// <summary>Arrows that must not exist, whatever else changes.</summary>
    static readonly (string From, string To, string Why)[] Forbidden =
    [
        ("Providers", "Ledger", "adapters never touch the ledger: the engine records what they say"),
        ("Providers", "Jobs", "adapters are driven by the engine, not the other way round"),
        ("Providers", "Polling", "the engine owns the poll ticks"),
        ("Providers", "Requests", "adapters know nothing of intake"),
        ("Ledger", "Providers", "the ledger stores what the engine decided, in its own terms"),
    ];

    [Fact]
    public void TheFoldersDependOnEachOtherOneWay()
    {
        var graph = Graph();
        output.WriteLine(string.Join('\n', graph.OrderBy(g => g.Key).Select(g => $"{g.Key} -> {string.Join(", ", g.Value.Keys.Order())}")));

        var problems = Forbidden
            .Where(f => graph.TryGetValue(f.From, out var to) && to.ContainsKey(f.To))
            .Select(f => $"{f.From} -> {f.To} ({f.Why}): {string.Join(", ", graph[f.From][f.To].Order())}")
            .ToList();
        problems.AddRange(Cycles(graph).Select(c => $"cycle: {string.Join(" -> ", c)}"));
        Assert.True(problems.Count == 0, string.Join('\n', problems));
        output.WriteLine($"[figure] folder dependencies: {graph.Count} folders, {graph.Sum(g => g.Value.Count)} arrows, no cycle, none of the {Forbidden.Length} forbidden arrows");
    }

    [Fact]
    public void TheContractsDependOnNothingOfTheRelay()
    {
        var contracts = Path.Combine(RepositoryRoot(), "src", "EnrichmentRelay.Contracts");
        var offending = Directory.EnumerateFiles(contracts, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(f => Reference().Matches(File.ReadAllText(f)).Any(m => m.Groups[1].Value != "Contracts"))
            .ToList();
        Assert.Empty(offending);
    }

    /// <summary>Folder → the folders it refers to, each with the files that do.</summary>
    static Dictionary<string, Dictionary<string, HashSet<string>>> Graph()
    {
        var folders = Directory.GetDirectories(Source).Select(Path.GetFileName).OfType<string>()
            .Where(d => d is not ("bin" or "obj" or "Properties")).ToHashSet();
        var graph = folders.ToDictionary(f => f, _ => new Dictionary<string, HashSet<string>>());
        foreach (var folder in folders)
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Source, folder), "*.*", SearchOption.AllDirectories)
                         .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".razor", StringComparison.Ordinal))
                         .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}Migrations{Path.DirectorySeparatorChar}")))
            {
                var code = Comment().Replace(File.ReadAllText(file), "");
                foreach (Match reference in Reference().Matches(code))
                {
                    var target = reference.Groups[1].Value;
                    if (target != folder && folders.Contains(target))
                    {
                        if (!graph[folder].TryGetValue(target, out var files))
                            graph[folder][target] = files = [];
                        files.Add(Path.GetRelativePath(Source, file));
                    }
                }
            }
        return graph;
    }

    /// <summary>Every cycle's smallest form, found by a depth-first search from each folder.</summary>
    static IEnumerable<IReadOnlyList<string>> Cycles(Dictionary<string, Dictionary<string, HashSet<string>>> graph)
    {
        var found = new HashSet<string>();
        foreach (var start in graph.Keys.Order())
        {
            var path = new List<string> { start };
            foreach (var cycle in Walk(start, path))
                if (found.Add(string.Join(">", Canonical(cycle))))
                    yield return cycle;
        }

        IEnumerable<List<string>> Walk(string at, List<string> path)
        {
            foreach (var next in graph[at].Keys.Order())
            {
                if (next == path[0])
                    yield return [.. path, next];
                else if (!path.Contains(next) && string.CompareOrdinal(next, path[0]) > 0)
                {
                    path.Add(next);
                    foreach (var cycle in Walk(next, path))
                        yield return cycle;
                    path.RemoveAt(path.Count - 1);
                }
            }
        }

        static IEnumerable<string> Canonical(List<string> cycle) => cycle.Take(cycle.Count - 1);
    }

    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EnrichmentRelay.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("EnrichmentRelay.sln not found above the test's folder.");
    }

    [GeneratedRegex(@"\bEnrichmentRelay\.([A-Z][A-Za-z]+)\b")]
    private static partial Regex Reference();

    /// <summary>Comments (whole-line and trailing, and XML docs), whose words are not references.</summary>
    [GeneratedRegex(@"^\s*//.*$|/\*.*?\*/", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Comment();
}
