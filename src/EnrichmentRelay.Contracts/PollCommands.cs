namespace EnrichmentRelay.Contracts;

/// <summary>
/// Poll Woodpecker's open batches now. Published by every relay instance's timer once per tick; the
/// tick number (time divided by the poll interval) lets exactly one instance run each tick.
/// </summary>
public record PollWoodpecker(long Tick, DateTimeOffset ScheduledAt);
