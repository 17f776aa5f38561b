namespace EnrichmentRelay.Contracts;

/// <summary>
/// Poll Woodpecker's open batches now. Published by every relay instance's timer once per tick; the
/// tick number (time divided by the poll interval) lets exactly one instance run each tick.
/// </summary>
public record PollWoodpecker(long Tick, DateTimeOffset ScheduledAt);

/// <summary>Sweep Precept jobs whose callback is overdue or whose submit answer was lost; one sweep per tick.</summary>
public record PollPrecept(long Tick, DateTimeOffset ScheduledAt);

/// <summary>Poll Lance's open enrichment tasks now; one poll per tick, like <see cref="PollWoodpecker"/>.</summary>
public record PollLance(long Tick, DateTimeOffset ScheduledAt);
