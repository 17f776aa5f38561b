using System.Diagnostics;
using RabbitMQ.Client;

namespace EnrichmentRelay.Benchmarks.Load;

/// <summary>
/// Publishes requests the way a non-.NET producer does (persistent raw JSON, publisher confirms), many in flight:
/// flat out ("as fast as the broker takes them") or paced at a fixed rate. The same code feeds the relay and the baseline.
/// </summary>
public static class BrokerPublisher
{
    const int Channels = 4;
    const int InFlightPerChannel = 128;

    /// <param name="ratePerSecond">null: as fast as the broker confirms; else publish request i at start + i / rate.</param>
    /// <returns>The Stopwatch timestamp when the last publish was confirmed.</returns>
    public static async Task<long> PublishAsync(ConnectionFactory factory, string exchange, IReadOnlyList<PublishedRequest> requests,
        Timeline? timeline, double? ratePerSecond, CancellationToken ct = default)
    {
        await using var connection = await factory.CreateConnectionAsync(ct);
        var channels = new List<IChannel>();
        try
        {
            for (var c = 0; c < Channels; c++)
                channels.Add(await connection.CreateChannelAsync(new CreateChannelOptions(
                    publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
                    outstandingPublisherConfirmationsRateLimiter: new ThrottlingRateLimiter(InFlightPerChannel * 2)), ct));

            var properties = new BasicProperties { ContentType = "application/json", Persistent = true };
            var next = -1;
            var start = Stopwatch.GetTimestamp();
            var workers = Enumerable.Range(0, Channels * InFlightPerChannel).Select(w => Task.Run(async () =>
            {
                var channel = channels[w % Channels];
                int i;
                while ((i = Interlocked.Increment(ref next)) < requests.Count)
                {
                    if (ratePerSecond is { } rate)
                        await WaitUntilAsync(start + (long)(i / rate * Stopwatch.Frequency), ct);
                    timeline?.Published(i);
                    await channel.BasicPublishAsync(exchange, "", mandatory: false, properties, requests[i].Body, ct);
                }
            }, ct)).ToList();
            await Task.WhenAll(workers);
            return Stopwatch.GetTimestamp();
        }
        finally
        {
            foreach (var channel in channels)
                await channel.DisposeAsync();
        }
    }

    static async Task WaitUntilAsync(long due, CancellationToken ct)
    {
        // Timer resolution is about a millisecond: close enough for rates up to a few thousand a second.
        double left;
        while ((left = (due - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency) > 0.5)
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, left - 0.5)), ct);
    }
}
