using System.Globalization;
using System.Text;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>One sample of a Prometheus text exposition: <c>name{label="value",…} 42</c>.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public override string ToString() => $"{Name}{{{string.Join(",", Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {Value}";
}

/// <summary>A parsed <c>/metrics</c> answer, with the look-ups the tests need.</summary>
public sealed class PrometheusScrape(IReadOnlyList<PrometheusSample> samples)
{
    public IReadOnlyList<PrometheusSample> Samples { get; } = samples;

    public static async Task<PrometheusScrape> FetchAsync(HttpClient http)
    {
        using var response = await http.GetAsync("metrics");
        response.EnsureSuccessStatusCode();
        return Parse(await response.Content.ReadAsStringAsync());
    }

    public IEnumerable<PrometheusSample> Family(string name, params (string Key, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value));

    public bool Has(string name) => Samples.Any(s => s.Name == name);

    /// <summary>The sum over every sample of <paramref name="name"/> carrying these labels (0 when there is none).</summary>
    public double Sum(string name, params (string Key, string Value)[] labels) => Family(name, labels).Sum(s => s.Value);

    public override string ToString() => string.Join('\n', Samples.Where(s => s.Name.StartsWith("relay_", StringComparison.Ordinal)));

    public static PrometheusScrape Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var labels = new Dictionary<string, string>();
            var nameEnd = line.IndexOfAny(['{', ' ']);
            var name = line[..nameEnd];
            var rest = nameEnd;
            if (line[nameEnd] == '{')
                rest = ReadLabels(line, nameEnd + 1, labels);
            var value = line[rest..].Trim().Split(' ')[0];
            samples.Add(new PrometheusSample(name, labels, value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(value, CultureInfo.InvariantCulture),
            }));
        }
        return new PrometheusScrape(samples);
    }

    /// <summary>Reads <c>k="v",…}</c> (values may hold braces and escaped quotes); returns the index after the closing brace.</summary>
    static int ReadLabels(string line, int at, Dictionary<string, string> labels)
    {
        while (line[at] != '}')
        {
            var equals = line.IndexOf('=', at);
            var key = line[at..equals].Trim(',', ' ');
            var value = new StringBuilder();
            var i = equals + 2; // past ="
            for (; line[i] != '"'; i++)
            {
                if (line[i] == '\\')
                    i++;
                value.Append(line[i]);
            }
            labels[key] = value.ToString();
            at = i + 1;
            if (line[at] == ',')
                at++;
        }
        return at + 1;
    }
}
