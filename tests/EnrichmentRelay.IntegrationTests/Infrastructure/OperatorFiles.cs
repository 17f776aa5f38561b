using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>The queries of deploy/grafana/*.json and deploy/prometheus/alerts.yaml, as an operator's tools read them.</summary>
public static class OperatorFiles
{
    public static string Deploy => Path.Combine(RelayProcess.RepositoryRoot, "deploy");

    /// <summary>Every query of every dashboard: (dashboard file, panel title, PromQL).</summary>
    public static IReadOnlyList<(string File, string Panel, string Expression)> DashboardQueries()
    {
        var queries = new List<(string, string, string)>();
        foreach (var file in Directory.GetFiles(Path.Combine(Deploy, "grafana"), "*.json"))
        {
            var dashboard = JsonNode.Parse(File.ReadAllText(file))!;
            foreach (var panel in Panels(dashboard["panels"]!.AsArray()))
                foreach (var target in panel["targets"]?.AsArray() ?? [])
                    queries.Add((Path.GetFileName(file), (string)panel["title"]!, (string)target!["expr"]!));
        }
        return queries;
    }

    // Panels inside a collapsed row are nested in the row.
    static IEnumerable<JsonNode> Panels(JsonArray panels) =>
        panels.OfType<JsonNode>().SelectMany(p => p["panels"] is JsonArray nested ? [p, .. Panels(nested)] : new[] { p });

    /// <summary>Every alert rule: (alert name, PromQL).</summary>
    public static IReadOnlyList<(string Alert, string Expression)> AlertRules()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Deploy, "prometheus", "alerts.yaml")))
            yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents.Single().RootNode;
        return ((YamlSequenceNode)root["groups"]).Children.Cast<YamlMappingNode>()
            .SelectMany(group => ((YamlSequenceNode)group["rules"]).Children.Cast<YamlMappingNode>())
            .Where(rule => rule.Children.ContainsKey("alert"))
            .Select(rule => (((YamlScalarNode)rule["alert"]).Value!, ((YamlScalarNode)rule["expr"]).Value!))
            .ToList();
    }
}

/// <summary>The operator files checked against a real <c>/metrics</c> scrape.</summary>
public static class OperatorFileChecks
{
    // Labels Prometheus adds when it scrapes, and the histogram bucket label.
    static readonly HashSet<string> ScrapeLabels = ["instance", "job", "le"];

    /// <summary>Every metric a dashboard query or an alert rule reads is in <paramref name="scrape"/>, and so is every label a dashboard groups by.</summary>
    public static string AssertReadOnlyExposedMetrics(PrometheusScrape scrape)
    {
        var exposed = scrape.Samples.Select(s => s.Name).ToHashSet();
        var problems = new List<string>();
        var dashboard = OperatorFiles.DashboardQueries();
        foreach (var (file, panel, expression) in dashboard)
        {
            var metrics = PromQl.MetricNames(expression);
            if (metrics.Count == 0)
                problems.Add($"{file} '{panel}': no metric found in {expression}");
            problems.AddRange(metrics.Where(m => !exposed.Contains(m)).Select(m => $"{file} '{panel}': {m} is not exposed by the relay"));
            var labels = scrape.Samples.Where(s => metrics.Contains(s.Name)).SelectMany(s => s.Labels.Keys).ToHashSet();
            problems.AddRange(PromQl.GroupingLabels(expression).Where(l => !ScrapeLabels.Contains(l) && !labels.Contains(l))
                .Select(l => $"{file} '{panel}': no sample of {string.Join(", ", metrics)} has the label '{l}'"));
        }
        var alerts = OperatorFiles.AlertRules();
        foreach (var (alert, expression) in alerts)
            problems.AddRange(PromQl.MetricNames(expression).Where(m => !exposed.Contains(m))
                .Select(metric => $"alerts.yaml {alert}: {metric} is not exposed by the relay"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        var dashboardMetrics = dashboard.SelectMany(q => PromQl.MetricNames(q.Expression)).ToHashSet();
        return $"{dashboard.Count} dashboard queries over {dashboardMetrics.Count} metrics and {alerts.Count} alert rules read only metrics " +
               "in this scrape";
    }
}
