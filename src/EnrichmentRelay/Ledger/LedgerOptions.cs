using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Ledger;

public enum LedgerEngine
{
    Sqlite,
    Postgres,
}

public sealed class LedgerOptions
{
    public const string Section = "Ledger";

    /// <summary>SQLite for one instance (the default); PostgreSQL to run several.</summary>
    public LedgerEngine Engine { get; set; } = LedgerEngine.Sqlite;

    /// <summary>Defaults to a SQLite file beside the working directory.</summary>
    [Required]
    public string ConnectionString { get; set; } = "Data Source=enrichment-relay.db";

    /// <summary>Apply pending migrations when the relay starts. Switch off when a deploy step does it.</summary>
    public bool MigrateOnStartup { get; set; } = true;
}
