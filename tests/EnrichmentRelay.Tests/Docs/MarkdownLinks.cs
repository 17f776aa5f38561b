using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EnrichmentRelay.Tests.Docs;

/// <summary>
/// The relative links of markdown files, checked the way GitHub renders them: the target file or folder exists
/// inside the repository, and a <c>#anchor</c> into a markdown file names one of its headings (GitHub's slugs).
/// </summary>
public static partial class MarkdownLinks
{
    public sealed record Link(string File, int Line, string Target);

    /// <summary>Links outside code blocks and code spans: <c>[text](target)</c> and <c>![alt](target)</c>.</summary>
    public static IEnumerable<Link> Read(string file, string markdown)
    {
        foreach (var (line, number) in ProseLines(markdown))
            foreach (Match link in InlineLink().Matches(WithoutCodeSpans(line)))
                yield return new Link(file, number, link.Groups["target"].Value.Trim('<', '>'));
    }

    /// <summary>The anchors GitHub gives a markdown file's headings, repeats numbered (<c>name</c>, <c>name-1</c>, …).</summary>
    public static IReadOnlySet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (line, _) in ProseLines(markdown))
        {
            var heading = Heading().Match(line);
            if (!heading.Success)
                continue;
            var slug = Slug(heading.Groups["text"].Value);
            var repeats = seen.GetValueOrDefault(slug);
            seen[slug] = repeats + 1;
            anchors.Add(repeats == 0 ? slug : $"{slug}-{repeats}");
        }
        return anchors;
    }

    /// <summary>
    /// GitHub's heading slug (github-slugger) of the heading as rendered: links reduced to their text, then lower
    /// case, every character but letters, digits, marks, <c>-</c>, <c>_</c> and spaces dropped, spaces made <c>-</c>.
    /// </summary>
    public static string Slug(string heading)
    {
        var rendered = InlineLink().Replace(heading, m => m.Groups["text"].Value);
        var slug = new StringBuilder();
        foreach (var c in rendered.ToLowerInvariant())
        {
            if (c == ' ')
                slug.Append('-');
            else if (char.IsLetterOrDigit(c) || c is '-' or '_'
                     || char.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
                slug.Append(c);
        }
        return slug.ToString();
    }

    /// <summary>Why each relative link of <paramref name="files"/> (paths under <paramref name="root"/>) does not resolve.</summary>
    public static IReadOnlyList<string> Broken(string root, IEnumerable<string> files, out int checkedLinks)
    {
        root = Path.GetFullPath(root);
        var problems = new List<string>();
        checkedLinks = 0;
        foreach (var file in files)
        {
            var path = Path.GetFullPath(Path.Combine(root, file));
            foreach (var link in Read(file, File.ReadAllText(path)))
            {
                if (UriScheme().IsMatch(link.Target))
                    continue;
                checkedLinks++;
                var hash = link.Target.IndexOf('#');
                var target = Uri.UnescapeDataString(hash < 0 ? link.Target : link.Target[..hash]);
                var anchor = hash < 0 ? null : link.Target[(hash + 1)..];
                var resolved = target.Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target));
                var where = $"{file}:{link.Line}: ({link.Target})";
                if (!resolved.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    problems.Add($"{where} points outside the repository");
                else if (!File.Exists(resolved) && !Directory.Exists(resolved))
                    problems.Add($"{where}: {Path.GetRelativePath(root, resolved)} does not exist");
                else if (anchor is not null && !resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
                    problems.Add($"{where}: an anchor into a file that is not markdown cannot be checked");
                else if (anchor is not null && !Anchors(File.ReadAllText(resolved)).Contains(Uri.UnescapeDataString(anchor)))
                    problems.Add($"{where}: {Path.GetRelativePath(root, resolved)} has no heading with the anchor '#{anchor}'");
            }
        }
        return problems;
    }

    /// <summary>Lines outside fenced code blocks, numbered from 1.</summary>
    static IEnumerable<(string Line, int Number)> ProseLines(string markdown)
    {
        string? fence = null;
        var number = 0;
        foreach (var line in markdown.Split('\n'))
        {
            number++;
            var trimmed = line.TrimStart();
            if (fence is null && (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal)))
                fence = trimmed[..3];
            else if (fence is not null && trimmed.StartsWith(fence, StringComparison.Ordinal))
                fence = null;
            else if (fence is null)
                yield return (line.TrimEnd('\r'), number);
        }
    }

    /// <summary>Code spans outside link text render as code, not links: blank them out, keeping the link text's own.</summary>
    static string WithoutCodeSpans(string line) =>
        CodeSpan().Replace(line, m => m.Index > 0 && line[m.Index - 1] == '[' && line.IndexOf("](", m.Index + m.Length, StringComparison.Ordinal) == m.Index + m.Length
            ? m.Value
            : new string(' ', m.Length));

    [GeneratedRegex(@"\[(?<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?<target><[^>]+>|[^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^ {0,3}#{1,6}\s+(?<text>.*?)(?:\s+#+)?\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex UriScheme();
}
