using System.Collections.Concurrent;
using EnrichmentRelay.Polling;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EnrichmentRelay.Tests.Polling;

public sealed class PollTickerTests
{
    sealed record TestPoll(long Tick);

    [Fact]
    public async Task APublishThatNeverEndsIsGivenUpAndTheNextTicksPollAgain()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 22, 0, 0, TimeSpan.Zero));
        var logger = new FakeLogger<PollTicker>();
        // When each publish began (fake time); the first never ends, as a publish whose confirm the client waits for forever.
        var published = new ConcurrentQueue<(long Tick, DateTimeOffset At)>();
        var never = new TaskCompletionSource();
        var bus = Fake.Of<IBus>(new()
        {
            ["Publish"] = (Func<object?[], object?>)(args =>
            {
                published.Enqueue((((TestPoll)args[0]!).Tick, time.GetUtcNow()));
                return published.Count == 1 ? never.Task : Task.CompletedTask;
            }),
        });
        var schedule = new PollSchedule("test", TimeSpan.FromSeconds(1), (tick, _) => new TestPoll(tick));
        using var ticker = new PollTicker([schedule], bus, time, logger);
        await ticker.StartAsync(CancellationToken.None);

        // Fake time moves a second at a time (each tick a publish) until a second publish began, or 60 s of it passed.
        var until = DateTime.UtcNow.AddSeconds(30);
        while (published.Count < 2 && time.GetUtcNow() < new DateTimeOffset(2026, 12, 2, 22, 1, 0, TimeSpan.Zero))
        {
            Assert.True(DateTime.UtcNow < until, "gave up after 30 s");
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }
        // With a deadline: a ticker stuck in a publish would never stop by itself.
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            await ticker.StopAsync(deadline.Token);

        var calls = published.ToArray();
        Assert.True(calls.Length >= 2, $"only {calls.Length} publish(es): the one that never ended stopped the ticker");
        // The second began once the first had been given up, not before, and for a tick after the first's.
        Assert.InRange(calls[1].At - calls[0].At, PollTicker.PublishTimeout, PollTicker.PublishTimeout + TimeSpan.FromSeconds(2));
        Assert.True(calls[1].Tick > calls[0].Tick);
        var warning = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.IsType<TimeoutException>(warning.Exception);
    }
}
