namespace EnrichmentRelay.Benchmarks.Report;

/// <summary>
/// How durable the storage behind a figure was, as the server (or the database file) reported it during the run,
/// not as configured. A commit that survives a power cut needs PostgreSQL fsync on with synchronous_commit not off,
/// or SQLite synchronous FULL or EXTRA (NORMAL in WAL mode may lose the last commits to a crash of the machine).
/// </summary>
public sealed record Durability(string Description, bool Durable)
{
    public static Durability Postgres(string fsync, string synchronousCommit) =>
        new($"PostgreSQL fsync {fsync}, synchronous_commit {synchronousCommit}", fsync == "on" && synchronousCommit != "off");

    /// <param name="synchronous">PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.</param>
    public static Durability Sqlite(string journalMode, long synchronous) =>
        new($"SQLite journal_mode {journalMode}, synchronous {synchronous switch { 0 => "OFF", 1 => "NORMAL", 2 => "FULL", 3 => "EXTRA", _ => synchronous.ToString() }}",
            synchronous >= 2);

    /// <summary>The bare chain's: RabbitMQ confirms a persistent message on a durable queue once it is on disk.</summary>
    public static Durability Broker { get; } = new("RabbitMQ durable queue, persistent messages, publisher confirms", true);

    /// <summary>The plain bare webhook endpoint keeps nothing.</summary>
    public static Durability Nothing { get; } = new("stores nothing", false);

    /// <summary>The bare webhook floor: each body appended to one file and fsynced (<c>Flush(flushToDisk: true)</c>) before the 202.</summary>
    public static Durability FsyncPerBody { get; } = new("appends each body to one file, fsync per body", true);

    public override string ToString() => Description;
}
