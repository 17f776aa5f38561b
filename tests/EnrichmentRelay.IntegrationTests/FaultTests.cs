using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// Faults of the relay (killed mid-run, publishes the broker rejects): every request still completes once, nobody is
/// charged twice. Faults of the providers are <see cref="ProviderFaultTests"/>; outages of the broker and the database
/// are <see cref="OutageTests"/>.
/// </summary>
[RunsLong(120)]
public sealed class FaultTests(ITestOutputHelper output)
{
    static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task KillNineMidRunAndRestartLosesNothingAndChargesNobodyTwice()
    {
        var requests = Enumerable.Range(0, 1000).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, sandbox =>
        {
            sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(500);
            sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(500);
            sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
            sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromSeconds(1);
        }, new Dictionary<string, string>
        {
            // Small batches keep several submits in flight when the kill comes; fast safety nets finish what it cut.
            ["Providers__Precept__BatchSize"] = "50",
            ["Providers__Precept__SweepInterval"] = "00:00:01",
            ["Providers__Precept__CallbackGrace"] = "00:00:05",
            ["Providers__Precept__ReconcileAfter"] = "00:00:45",
            ["Providers__Woodpecker__ReconcileAfter"] = "00:00:45",
            // ReconcileAfter must outlast a submit (4 x RequestTimeout); a timeout this long holds on a loaded machine.
            ["Providers__Precept__RequestTimeout"] = "00:00:10",
            ["Providers__Woodpecker__RequestTimeout"] = "00:00:10",
            // A Lance submit cut off by the kill is taken over after 4 x its RequestTimeout (2 minutes with the default 30 s).
            ["Providers__Lance__RequestTimeout"] = "00:00:10",
            ["Providers__Lance__BatchSize"] = "50",
        });
        try
        {
            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => requests.Count(r => scenario.Bus.CompletionCount(r.RequestId) > 0) >= 150,
                Deadline, "some completions before the kill");

            var killed = await scenario.CrashAndRestartRelayAsync();
            // A kill between recording a submit and its POST reaching Precept leaves a job Precept never got: the relay
            // parks it rather than risk paying twice, and the operator sends it again.
            var resent = await scenario.WaitForCompletionsResendingWhatPreceptNeverGotAsync(requests, Deadline);

            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            var duplicates = received - requests.Count;
            var republished = duplicates - scenario.Bus.RedeliveredCompletions;
            var window = OutboxWindow.Read([killed, scenario.Relay]);
            var precept = scenario.Sandbox.Precept.Counters;
            var woodpecker = scenario.Sandbox.Woodpecker.Counters;
            var lance = scenario.Sandbox.Lance.Counters;
            output.WriteLine($"[figure] kill -9 mid-run: {requests.Count} requests sent, {received} completions received, {duplicates} duplicates " +
                             $"(same EventId; {republished} re-published by the relay, bound {window}); {resent} Precept jobs cut off before Precept got them, parked and resent by the operator; charges: Precept {precept.CreditsCharged} credits for {precept.LeadSubmissions.Count} leads " +
                             $"(max {Leads.Max(precept.LeadSubmissions)} submit each), Woodpecker {woodpecker.CreditsCharged} credits " +
                             $"(max {Leads.Max(woodpecker.LeadSubmissions)} submit each), Lance {lance.CreditsCharged} credits (max {Leads.Max(lance.Charges)} charge each)");
            // At least once on the wire, exactly once in substance; every lead here is findable, so every outcome is Found.
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
            // Copies come only from what the killed instance held leased, which the new one took over once its lease ran out.
            AssertDuplicatesWithinTheWindow(republished, window);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    [Fact]
    public async Task PublishesTheBrokerRejectsMakeTheRelayReconnectAndAreSentAgainUntilTaken()
    {
        var requests = Enumerable.Range(0, 30).Select(Leads.Mixed).ToList();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, WithSmallRandomDelays);
        var broker = TestBroker.Node;
        await using var connection = await new ConnectionFactory { UserName = broker.User, Password = broker.Password, VirtualHost = scenario.VirtualHost }
            .CreateConnectionAsync(broker.Nodes.Select(n => new AmqpTcpEndpoint(n.Host, n.Port)).ToList());
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            // A subscriber's queue that is always full and refuses more: the broker rejects (basic.nack) every completion,
            // though the test's own subscriber gets each copy.
            var rejecting = $"it-rejecting-{Guid.NewGuid():N}";
            await channel.QueueDeclareAsync(rejecting, durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?> { ["x-max-length"] = 0L, ["x-overflow"] = "reject-publish" });
            await channel.QueueBindAsync(rejecting, ExchangeNames.EnrichmentCompleted, "");
            var rejectingSince = DateTime.UtcNow;

            await Task.WhenAll(requests.Select(scenario.Bus.PublishAsync));
            await Eventually.TrueAsync(() => scenario.Relay.ReconnectsAfterRejectedPublishes.Count >= 1, Deadline, "a reconnect after rejected publishes");
            await scenario.Bus.WaitForCompletionsAsync(requests.Select(r => r.RequestId), Deadline);

            await channel.QueueDeleteAsync(rejecting);
            var rejectedFor = DateTime.UtcNow - rejectingSince;
            var reconnects = scenario.Relay.ReconnectsAfterRejectedPublishes;
            // The relay went on after its reconnect(s): nothing is left unconfirmed once the broker takes the messages again
            // (the gauge is read every 2 s).
            await Eventually.ReturnsAsync(() => PrometheusScrape.FetchAsync(scenario.Relay.Http), s => s.Sum("relay_outbox_pending") == 0,
                Deadline, "the outbox to empty once nothing rejects its messages");

            var received = requests.Sum(r => scenario.Bus.CompletionCount(r.RequestId));
            output.WriteLine($"[figure] broker rejecting every EnrichmentCompleted for {rejectedFor.TotalSeconds:0.0} s: the relay reconnected " +
                             $"{reconnects.Count} times (at most once per 15 s) and went on; {received} completions received for {requests.Count} " +
                             $"requests, {received - requests.Count} duplicates (same EventId)");
            Assert.All(reconnects, line => Assert.Contains(ExchangeNames.EnrichmentCompleted, line));
            // At most one per RejectedPublishRecovery.MinimumInterval (15 s).
            Assert.InRange(reconnects.Count, 1, (int)(rejectedFor / TimeSpan.FromSeconds(15)) + 1);
            scenario.AssertEachCompletedOnceAndChargedOnce(requests);
            Assert.False(scenario.Relay.HasExited);
        }
        catch
        {
            output.WriteLine(scenario.Relay.LogTail(200));
            throw;
        }
    }

    /// <summary>
    /// The relay re-publishes only what it reported it could: publish attempts the broker did not confirm, and rows taken
    /// over from an instance that died holding them. Confirms held through a database outage are recorded before anything
    /// is published again, so they add nothing: never a whole round because the database blinked.
    /// </summary>
    internal static void AssertDuplicatesWithinTheWindow(int republished, OutboxWindow window)
    {
        Assert.InRange(republished, 0, window.Bound);
    }

    /// <summary>Providers that take a little, and not always the same, time: results arrive out of order.</summary>
    internal static void WithSmallRandomDelays(EnrichmentRelay.Sandbox.SandboxServer sandbox)
    {
        sandbox.Precept.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(200);
        sandbox.Precept.Settings.ProcessingJitter = TimeSpan.FromMilliseconds(400);
        sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(300);
        sandbox.Lance.Settings.ProcessingDelay = TimeSpan.FromMilliseconds(400);
    }
}
