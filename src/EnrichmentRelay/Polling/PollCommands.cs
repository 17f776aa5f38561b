using MassTransit;

namespace EnrichmentRelay.Polling;

// The relay's own timer commands: not part of the published contracts. Their names are pinned to the ones they
// had when they lived in EnrichmentRelay.Contracts, so the poll-* queues stay bound to the same exchanges.

/// <summary>
/// Poll Woodpecker's open batches now. Published by every relay instance's timer once per tick; the
/// tick number (time divided by the poll interval) lets exactly one instance run each tick.
/// </summary>
[MessageUrn(ExchangeName)]
[EntityName(ExchangeName)]
[FaultEntityName("MassTransit:Fault--" + ExchangeName + "--")]
public record PollWoodpecker(long Tick, DateTimeOffset ScheduledAt)
{
    public const string ExchangeName = "EnrichmentRelay.Contracts:PollWoodpecker";
}

/// <summary>Sweep Precept jobs whose callback is overdue or whose submit answer was lost; one sweep per tick.</summary>
[MessageUrn(ExchangeName)]
[EntityName(ExchangeName)]
[FaultEntityName("MassTransit:Fault--" + ExchangeName + "--")]
public record PollPrecept(long Tick, DateTimeOffset ScheduledAt)
{
    public const string ExchangeName = "EnrichmentRelay.Contracts:PollPrecept";
}

/// <summary>Poll Lance's open enrichment tasks now; one poll per tick, like <see cref="PollWoodpecker"/>.</summary>
[MessageUrn(ExchangeName)]
[EntityName(ExchangeName)]
[FaultEntityName("MassTransit:Fault--" + ExchangeName + "--")]
public record PollLance(long Tick, DateTimeOffset ScheduledAt)
{
    public const string ExchangeName = "EnrichmentRelay.Contracts:PollLance";
}
