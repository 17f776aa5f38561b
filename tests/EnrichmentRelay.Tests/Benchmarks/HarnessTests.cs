using System.Text;
using EnrichmentRelay.Benchmarks;
using EnrichmentRelay.Benchmarks.Baselines;
using EnrichmentRelay.Benchmarks.Load;
using EnrichmentRelay.Benchmarks.Report;

namespace EnrichmentRelay.Tests.Benchmarks;

/// <summary>The bench harness's arithmetic: if these are wrong, every figure it prints is.</summary>
public sealed class HarnessTests
{
    [Fact]
    public void PercentilesAreNearestRank()
    {
        var summary = LatencySummary.Of(Enumerable.Range(1, 100).Select(i => (double)i).Reverse());

        Assert.Equal((100, 50.0, 95.0, 99.0, 100.0), (summary.Count, summary.P50, summary.P95, summary.P99, summary.Max));
        Assert.Equal(7.0, LatencySummary.Of([7]).P99);
        Assert.True(double.IsNaN(LatencySummary.Of([]).P50));
    }

    [Fact]
    public void TheRequestIdIsReadFromAMassTransitEnvelopeAndFromABareBody()
    {
        var id = Guid.NewGuid();
        var envelope = $$$"""{"messageId":"{{{Guid.NewGuid()}}}","requestId":"{{{Guid.NewGuid()}}}","message":{"eventId":"{{{Guid.NewGuid()}}}","requestId":"{{{id}}}","attempts":[{"provider":"precept"}]}}""";

        Assert.Equal(id, CompletionListener.RequestIdOf(Encoding.UTF8.GetBytes(envelope)));
        Assert.Equal(id, CompletionListener.RequestIdOf(Republisher.Reply(id, 1500)));
        Assert.Null(CompletionListener.RequestIdOf("not json"u8));
    }

    [Fact]
    public void TheBaselineReplyHasTheRequestedSize() =>
        Assert.Equal(1962, Republisher.Reply(Guid.NewGuid(), 1962).Length);

    [Fact]
    public void EachRelayRunIsComparedWithTheBaselineRunRightAfterItAndJudgedAgainstItsGoal()
    {
        var run = new BenchRun { StartedAt = "now", Command = "infra/bench.sh", Cores = 2, LoadBefore = "0" };
        run.EndToEnd.Add(Run("relay", "postgres", null, 1200, p95: 900));
        run.EndToEnd.Add(Run("baseline", "-", null, 4000, p95: 400));
        run.EndToEnd.Add(Run("relay", "postgres", 1000, 1000, p95: 1500));
        run.EndToEnd.Add(Run("baseline", "-", 1000, 1000, p95: 20));
        run.EndToEnd.Add(Run("relay", "sqlite", null, 450, p95: 900));
        run.EndToEnd.Add(Run("baseline", "-", null, 3000, p95: 300));

        Goals.Evaluate(run, new BenchOptions());

        Assert.Same(run.EndToEnd[3], Markdown.BaselineFor(run, run.EndToEnd[2]));
        Assert.Same(run.EndToEnd[5], Markdown.BaselineFor(run, run.EndToEnd[4]));
        Assert.Equal(true, run.Goals.Single(g => g.Goal == "end-to-end throughput, postgres").Met);
        Assert.Equal(false, run.Goals.Single(g => g.Goal == "end-to-end throughput, sqlite").Met);
        var overhead = run.Goals.Single(g => g.Goal.StartsWith("relay p95 overhead"));
        Assert.Equal(false, overhead.Met);
        Assert.StartsWith("1,480 ms", overhead.Figure);
        Assert.Contains("0.30× throughput", Markdown.Render(run));
    }

    static EndToEndResult Run(string system, string engine, double? rate, double perSecond, double p95) => new()
    {
        System = system,
        Engine = engine,
        PacedRate = rate,
        Requests = rate is null ? 20_000 : 10_000,
        Completed = rate is null ? 20_000 : 10_000,
        Duplicates = 0,
        CompletionsPerSecond = perSecond,
        PublishedPerSecond = perSecond,
        Latency = new LatencySummary(10, p95 / 2, p95, p95, p95),
    };
}
