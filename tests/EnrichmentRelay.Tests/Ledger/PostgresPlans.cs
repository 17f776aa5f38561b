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

    /// <summary>
    /// The most rows one step of an analyzed plan met (its rows times its loops, and those its filters removed): what the
    /// query cost in rows, whatever the plan's shape.
    /// </summary>
    public static long MostRowsMet(string analyzedPlan) => analyzedPlan.Split('\n').Max(line =>
    {
        var rows = System.Text.RegularExpressions.Regex.Match(line, @"actual rows=(\d+) loops=(\d+)");
        var removed = System.Text.RegularExpressions.Regex.Match(line, @"Rows Removed by \w+( \w+)?: (\d+)");
        return Math.Max(rows.Success ? long.Parse(rows.Groups[1].Value) * long.Parse(rows.Groups[2].Value) : 0,
            removed.Success ? long.Parse(removed.Groups[2].Value) : 0);
    });

    /// <summary>The plan of each kept query, with its parameters, as PostgreSQL explains it.</summary>
    public async Task<List<string>> ExplainAsync(RelayDbContext db)
    {
        var plans = new List<string>();
        foreach (var query in Queries)
            plans.Add(await ExplainAsync(db, query));
        return plans;
    }

    /// <param name="analyze">Runs the query too (rolled back only if the caller's transaction is), so each step says how many rows it met.</param>
    public static async Task<string> ExplainAsync(RelayDbContext db, CapturedQuery query, bool analyze = false)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = (analyze ? "EXPLAIN (ANALYZE, TIMING OFF) " : "EXPLAIN ") + query.Text;
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
