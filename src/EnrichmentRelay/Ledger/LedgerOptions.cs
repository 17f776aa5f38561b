using System.ComponentModel.DataAnnotations;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

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

    /// <summary>How long poll-tick keys, applied raw callbacks, sent outbox rows and replayed dead letters are kept (at least 7 days).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the clean-up runs.</summary>
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Retention long enough for dedupe to work; and a connection string the engine's own driver reads (a SQLite "Data Source=relay.db" with
    /// Engine=Postgres, or a "Host=db;..." with Engine=Sqlite, is a mix-up). The driver's message names the
    /// keyword it refused, never a value, so no password is printed.
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Retention < MinimumRetention)
            yield return new ValidationResult(
                $"Ledger:Retention must be at least {MinimumRetention.TotalDays:0} days: the raw callbacks of at least the last week are kept for audit.",
                [nameof(Retention)]);
        if (RetentionSweepInterval < TimeSpan.FromMinutes(1))
            yield return new ValidationResult("Ledger:RetentionSweepInterval must be at least a minute.", [nameof(RetentionSweepInterval)]);
        if (string.IsNullOrWhiteSpace(ConnectionString))
            yield break; // [Required] reports it
        var problem = Engine switch
        {
            LedgerEngine.Postgres => Unreadable(() => new NpgsqlConnectionStringBuilder(ConnectionString))
                                     ?? (new NpgsqlConnectionStringBuilder(ConnectionString).Host is { Length: > 0 } ? null : "it names no Host"),
            _ => Unreadable(() => new SqliteConnectionStringBuilder(ConnectionString))
                 ?? (new SqliteConnectionStringBuilder(ConnectionString).DataSource is { Length: > 0 } ? null : "it names no Data Source"),
        };
        if (problem is not null)
            yield return new ValidationResult(
                $"Ledger:ConnectionString is not a {(Engine == LedgerEngine.Postgres ? "PostgreSQL" : "SQLite")} connection string " +
                $"(Ledger:Engine is {Engine}): {problem}.", [nameof(ConnectionString)]);
    }

    static string? Unreadable(Func<DbConnectionStringBuilder> parse)
    {
        try
        {
            parse();
            return null;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            return ex.Message.TrimEnd('.');
        }
    }
}
