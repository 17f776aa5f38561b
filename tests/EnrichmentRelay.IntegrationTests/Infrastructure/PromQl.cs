using System.Text.RegularExpressions;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// Just enough PromQL reading to check operator files against a real scrape: which metric names an expression
/// reads, and which labels it groups by. Strings, label matchers, ranges and Grafana variables are set aside first,
/// so what is left are function names (followed by a parenthesis), keywords, numbers and metric names.
/// </summary>
public static partial class PromQl
{
    static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan",
    };

    public static IReadOnlySet<string> MetricNames(string expression)
    {
        var rest = Grouping().Replace(Strip(expression), " ");
        return Identifier().Matches(rest)
            .Where(m => !Keywords.Contains(m.Value) && !IsFunctionCall(rest, m))
            .Select(m => m.Value)
            .ToHashSet();
    }

    /// <summary>The labels of every <c>by (…)</c> and <c>without (…)</c> clause.</summary>
    public static IReadOnlySet<string> GroupingLabels(string expression) =>
        Grouping().Matches(Strip(expression))
            .SelectMany(m => m.Groups["labels"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet();

    static string Strip(string expression)
    {
        var text = GrafanaVariable().Replace(expression, " ");
        text = StringLiteral().Replace(text, "\"\"");
        text = LabelMatchers().Replace(text, " ");
        return RangeOrSubquery().Replace(text, " ");
    }

    static bool IsFunctionCall(string text, Match identifier)
    {
        var after = identifier.Index + identifier.Length;
        while (after < text.Length && char.IsWhiteSpace(text[after]))
            after++;
        return after < text.Length && text[after] == '(';
    }

    [GeneratedRegex(@"\$\{[^}]*\}|\$\w+")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""|'(?:[^'\\]|\\.)*'")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\((?<labels>[^)]*)\)")]
    private static partial Regex Grouping();

    // A number such as 0.95 or 1e3 never starts with a letter; durations were inside the ranges removed above.
    [GeneratedRegex(@"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
