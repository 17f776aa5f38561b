using System.Text.RegularExpressions;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Tests.Hosting;
using Xunit.Abstractions;
using EnrichmentRelay.LocalMode;

namespace EnrichmentRelay.Tests.Docs;

/// <summary>
/// The docs a person reads stay true to the relay: every setting of its options classes is in the settings table of
/// docs/configuration.md (and every setting there is real), and every relative link of the README and docs/ resolves.
/// </summary>
public sealed partial class DocsTests(ITestOutputHelper output)
{
    static readonly string Root = ContainerStack.RepositoryRoot();

    /// <summary>What a person reads: the README, every page in docs/ and the examples' README.</summary>
    static IReadOnlyList<string> ReadFiles() =>
    [
        "README.md",
        .. Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Select(f => Path.GetRelativePath(Root, f)).Order(StringComparer.Ordinal),
        Path.Combine("examples", "README.md"),
    ];

    /// <summary>The settings named (in backticks) in the first cell of a table row of docs/configuration.md.</summary>
    static IReadOnlySet<string> DocumentedSettings()
    {
        var settings = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(Root, "docs", "configuration.md")))
        {
            var cells = line.Split('|');
            if (line.StartsWith('|') && cells.Length > 2)
                foreach (Match key in CodeSpan().Matches(cells[1]))
                    settings.Add(key.Groups[1].Value);
        }
        return settings;
    }

    [Fact]
    public void EverySettingOfTheOptionsClassesIsInTheConfigurationTable()
    {
        var documented = DocumentedSettings();
        var options = RelayOptionTypes.BySection
            .SelectMany(s => RelayOptionTypes.Settable(s.Value).Select(p => $"{s.Key}:{p.Name}"))
            .Append(EmbeddedSandbox.EnabledKey)
            .Order(StringComparer.Ordinal)
            .ToList();

        var missing = options.Where(o => !documented.Contains(o)).ToList();
        output.WriteLine($"[figure] docs/configuration.md: {options.Count} settings in {RelayOptionTypes.BySection.Count} options sections; {documented.Count} documented");
        Assert.True(RelayOptionTypes.BySection.Count >= 9, $"found only the options sections {string.Join(", ", RelayOptionTypes.BySection.Keys)}");
        Assert.True(missing.Count == 0,
            $"docs/configuration.md's settings table has no row naming these settings (as `Section:Property` in its first cell):\n  {string.Join("\n  ", missing)}");
    }

    [Fact]
    public void EverySettingInTheConfigurationTableIsRealOrOutsideTheRelaysOptions()
    {
        // A row for a renamed or removed option would tell operators to set something the relay ignores. Rows outside
        // the relay's options sections (Logging:…, OTEL_…, Sandbox:Enabled) are read by the framework or the host.
        var wrong = DocumentedSettings()
            .Where(s => RelayOptionTypes.BySection.Keys.Any(section => s.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase)))
            .Select(RelayOptionTypes.WhyNotAnOption)
            .OfType<string>()
            .ToList();
        Assert.True(wrong.Count == 0, $"docs/configuration.md names settings the relay does not have:\n  {string.Join("\n  ", wrong)}");
    }

    [Fact]
    public void EveryRelativeLinkInTheReadmeAndDocsResolves()
    {
        var files = ReadFiles();
        var broken = MarkdownLinks.Broken(Root, files, out var checkedLinks);
        output.WriteLine($"[figure] docs: {checkedLinks} relative links checked in {files.Count} files: {string.Join(", ", files)}");
        Assert.True(checkedLinks >= 20, $"only {checkedLinks} relative links found: is the link reader still reading links?");
        Assert.True(broken.Count == 0, $"{broken.Count} broken link(s):\n  {string.Join("\n  ", broken)}");
    }

    [Fact]
    public void TheReadmeLinksEveryPageInDocs()
    {
        var linked = MarkdownLinks.Read("README.md", File.ReadAllText(Path.Combine(Root, "README.md")))
            .Select(l => l.Target.Split('#')[0])
            .ToHashSet(StringComparer.Ordinal);
        var pages = Directory.GetFiles(Path.Combine(Root, "docs"))
            .Select(f => "docs/" + Path.GetFileName(f))
            .Where(p => !linked.Contains(p))
            .ToList();
        Assert.True(pages.Count == 0, $"the README links no page {string.Join(", ", pages)}");
    }

    [Theory]
    // GitHub's anchors for headings of the kinds the docs use: punctuation dropped, code spans and link text kept.
    [InlineData("Deployment: which port goes where", "deployment-which-port-goes-where")]
    [InlineData("Full local stack (Docker)", "full-local-stack-docker")]
    [InlineData("For publishers: sending `EnrichmentRequested`", "for-publishers-sending-enrichmentrequested")]
    [InlineData("Migrations as a deploy step: `--migrate`", "migrations-as-a-deploy-step---migrate")]
    [InlineData("Prometheus alert rules — [`deploy/prometheus/alerts.yaml`](../deploy/prometheus/alerts.yaml)", "prometheus-alert-rules--deployprometheusalertsyaml")]
    [InlineData("Layout", "layout")]
    public void HeadingsGetGitHubsAnchors(string heading, string anchor) => Assert.Equal(anchor, MarkdownLinks.Slug(heading));

    [Fact]
    public void TheLinkCheckReportsAMissingFileAMissingHeadingAndRepeatsNumbered()
    {
        var root = Directory.CreateTempSubdirectory("relay-docs-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "docs"));
            File.WriteAllText(Path.Combine(root.FullName, "docs", "a.md"), """
                # A
                ## Same
                ## Same
                [ok](#same-1) [ok too](../README.md) [gone](missing.md) [no heading](#same-2) [outside](../../x.md)
                [web](https://example.com/nowhere) `[in code](nowhere.md)`
                ```
                [in a block](nowhere.md)
                ```
                """);
            File.WriteAllText(Path.Combine(root.FullName, "README.md"), "[a](docs/a.md#a)\n");

            var broken = MarkdownLinks.Broken(root.FullName, ["README.md", Path.Combine("docs", "a.md")], out var checkedLinks);

            Assert.Equal(6, checkedLinks);
            Assert.Collection(broken,
                p => Assert.Contains("(missing.md): docs/missing.md does not exist", p),
                p => Assert.Contains("has no heading with the anchor '#same-2'", p),
                p => Assert.Contains("(../../x.md) points outside the repository", p));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex CodeSpan();
}
