using System.Text.RegularExpressions;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests.Deploy;

/// <summary>
/// deploy/prometheus/alerts.yaml as Prometheus reads it: <c>promtool check rules</c> and its unit tests
/// (<c>promtool test rules</c>, Debian's prometheus package; infra/test.sh installs it). Which metrics the rules
/// read is checked against a real scrape in <see cref="MetricsTests"/>.
/// </summary>
public sealed class PrometheusRulesTests(ITestOutputHelper output)
{
    const string Promtool = "/usr/bin/promtool";
    static string Rules => Path.Combine(OperatorFiles.Deploy, "prometheus");

    [Fact]
    public async Task TheAlertRulesAreValidAndTheirUnitTestsPass()
    {
        Assert.True(File.Exists(Promtool), $"{Promtool} is missing: run infra/test.sh, which installs Debian's prometheus package");

        var (checkCode, check) = await RunAsync("check", "rules", "alerts.yaml");
        Assert.True(checkCode == 0, check);
        var (testCode, tested) = await RunAsync("test", "rules", "alerts.test.yaml");
        Assert.True(testCode == 0, tested);
        Assert.Contains("SUCCESS", tested);

        var alerts = OperatorFiles.AlertRules();
        Assert.Equal($"SUCCESS: {alerts.Count} rules found", Regex.Match(check, @"SUCCESS: \d+ rules found").Value);
        // Every alert is shown firing in the unit tests (and each test also evaluates a time where it must stay quiet).
        var testFile = await File.ReadAllTextAsync(Path.Combine(Rules, "alerts.test.yaml"));
        var testedAlerts = Regex.Matches(testFile, @"alertname:\s*(\w+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.All(alerts, a => Assert.Contains(a.Alert, testedAlerts));
        var cases = Regex.Matches(testFile, @"^\s+- name:", RegexOptions.Multiline).Count;
        output.WriteLine($"[figure] promtool: deploy/prometheus/alerts.yaml has {alerts.Count} valid alert rules; " +
                         $"{cases} unit tests (alerts.test.yaml) show each firing and staying quiet");
    }

    [Fact]
    public void TheRulesReadTheRelaysMetrics()
    {
        var metrics = OperatorFiles.AlertRules().SelectMany(a => PromQl.MetricNames(a.Expression)).ToHashSet();

        Assert.Equal(new HashSet<string>
        {
            "relay_outbox_lag_seconds", "relay_requests_oldest_open_age_seconds", "relay_dead_letters", "relay_provider_call_errors_total",
            "relay_provider_call_duration_seconds_count", "relay_provider_paused", "relay_jobs_needing_attention", "relay_credits_charged_total",
        }, metrics);
        Assert.Equal(["provider"], OperatorFiles.AlertRules().SelectMany(a => PromQl.GroupingLabels(a.Expression)).ToHashSet());
    }

    static Task<(int ExitCode, string Output)> RunAsync(params string[] arguments) =>
        ChildCommand.RunAsync(Promtool, arguments, Rules, TimeSpan.FromSeconds(60));
}
