using System.ComponentModel.DataAnnotations;

namespace EnrichmentRelay.Ledger;

public enum LedgerEngine
{
    Sqlite,
    Postgres,
}

public sealed class LedgerOptions : IValidatableObject
{
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromDays(7);

    public const string Section = "Ledger";

    /// <summary>SQLite for one instance (the default); PostgreSQL to run several.</summary>
    public LedgerEngine Engine { get; set; } = LedgerEngine.Sqlite;

    /// <summary>Defaults to a SQLite file beside the working directory.</summary>
    [Required]
    public string ConnectionString { get; set; } = "Data Source=enrichment-relay.db";

    /// <summary>Apply pending migrations when the relay starts. Switch off when a deploy step does it.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    /// <summary>How long inbox keys, applied callbacks, sent outbox rows and replayed dead letters are kept (at least 7 days).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the clean-up runs.</summary>
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromHours(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Retention < MinimumRetention)
            yield return new ValidationResult(
                $"Ledger:Retention must be at least {MinimumRetention.TotalDays:0} days: providers retry callbacks for days, and a duplicate must still be recognised.",
                [nameof(Retention)]);
        if (RetentionSweepInterval < TimeSpan.FromMinutes(1))
            yield return new ValidationResult("Ledger:RetentionSweepInterval must be at least a minute.", [nameof(RetentionSweepInterval)]);
    }
}
