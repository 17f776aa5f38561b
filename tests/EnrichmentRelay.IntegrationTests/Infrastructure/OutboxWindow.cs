using System.Text.RegularExpressions;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// What the relays' outboxes reported, in their logs, of the messages they could publish twice: publish attempts that
/// ended without the broker's confirm (the message goes out again, by MassTransit or the next round) and rows taken
/// over from an instance whose lease ran out. A subscriber sees a re-published copy only of one of these, so their
/// sum bounds the copies. Confirms held while the ledger was down are reported too, but they are recorded before the
/// instance publishes anything again, so none of them may come twice (unless their instance died: taken over).
/// </summary>
public sealed partial record OutboxWindow(int UnconfirmedAttempts, int Held, int TakenOver)
{
    public int Bound => UnconfirmedAttempts + TakenOver;

    public static OutboxWindow Read(IEnumerable<RelayProcess> relays)
    {
        var logs = relays.Select(r => r.LogText).ToList();
        return new OutboxWindow(Sum(logs, UnconfirmedAttemptsLine()), Sum(logs, HeldLine()), Sum(logs, TakenOverLine()));
    }

    static int Sum(IEnumerable<string> logs, Regex line) =>
        logs.Sum(log => line.Matches(log).Sum(m => int.Parse(m.Groups[1].Value)));

    public override string ToString() =>
        $"{Bound} (publish attempts unconfirmed {UnconfirmedAttempts}, rows taken over {TakenOver}; confirms held through a ledger outage {Held})";

    [GeneratedRegex(@"(\d+) attempts to publish outbox messages ended without the broker's confirm")]
    private static partial Regex UnconfirmedAttemptsLine();

    [GeneratedRegex(@"Holding (\d+) outbox messages the broker confirmed")]
    private static partial Regex HeldLine();

    [GeneratedRegex(@"Took over (\d+) outbox messages leased by")]
    private static partial Regex TakenOverLine();
}
