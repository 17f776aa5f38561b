using System.Data.Common;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// What PostgreSQL would do with the queries a piece of the relay runs: a context on the same database that keeps each
/// query's text and parameters, and the server's plan for each of them.
/// </summary>
public sealed class PostgresPlans : DbCommandInterceptor
{
    public List<CapturedQuery> Queries { get; } = [];

    /// <summary>The text of every statement run, queries and the others, in order.</summary>
    public List<string> Statements { get; } = [];

    /// <summary>A context on <paramref name="db"/>'s database whose queries are kept in <see cref="Queries"/>.</summary>
    public PostgresRelayDbContext Watch(RelayDbContext db) => new(new DbContextOptionsBuilder<PostgresRelayDbContext>()
        .UseNpgsql(db.Database.GetConnectionString()).AddInterceptors(this).Options);

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Statements.Add(command.CommandText);
        return ValueTask.FromResult(result);
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Statements.Add(command.CommandText);
        Queries.Add(new CapturedQuery(command.CommandText, command.Parameters.Cast<DbParameter>().Select(p => (p.ParameterName, (object?)p.Value)).ToList()));
        return ValueTask.FromResult(result);
    }

    /// <summary>The plan of each kept query, with its parameters, as PostgreSQL explains it.</summary>
    public async Task<List<string>> ExplainAsync(RelayDbContext db)
    {
        var plans = new List<string>();
        foreach (var query in Queries)
            plans.Add(await ExplainAsync(db, query));
        return plans;
    }

    public static async Task<string> ExplainAsync(RelayDbContext db, CapturedQuery query)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN " + query.Text;
        foreach (var (name, value) in query.Parameters)
        {
            var copy = command.CreateParameter();
            copy.ParameterName = name;
            copy.Value = value;
            command.Parameters.Add(copy);
        }
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            lines.Add(reader.GetString(0));
        return query.Text + "\n" + string.Join("\n", lines);
    }
}

public sealed record CapturedQuery(string Text, List<(string Name, object? Value)> Parameters);
