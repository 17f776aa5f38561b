using System.Data.Common;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// The indexes on a request's job and completion time and on an event's send time hold no entries for nulls (partial,
/// <c>IS NOT NULL</c>). SQLite takes a partial index only where it can prove the query implies the index's condition: a
/// comparison of the column does, so the queries that compare it keep their index. (PostgreSQL's job read is checked by
/// <see cref="LedgerScanTests"/>.)
/// </summary>
public sealed class NullFreeIndexTests
{
    [Theory]
    [InlineData("""SELECT * FROM enrichment_requests WHERE "ProviderJobId" = @p""", "IX_enrichment_requests_ProviderJobId")]
    [InlineData("""SELECT * FROM enrichment_requests WHERE "RequestId" IN (@p, @q) OR "ProviderJobId" = @p""", "IX_enrichment_requests_ProviderJobId")]
    [InlineData("""SELECT count(*) FROM enrichment_requests WHERE "CompletedAt" >= @p AND "CompletedAt" < @q""", "IX_enrichment_requests_CompletedAt")]
    [InlineData("""DELETE FROM enrichment_requests WHERE "CompletedAt" < @p""", "IX_enrichment_requests_CompletedAt")]
    [InlineData("""DELETE FROM outbox WHERE "SentAt" < @p""", "IX_outbox_SentAt")]
    public async Task OnSqliteAQueryComparingTheColumnUsesItsIndexWithoutNulls(string query, string index)
    {
        await using var ledger = await EngineLedgers.CreateAsync("Sqlite");
        await using var scope = ledger.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
        Assert.Contains("IS NOT NULL", await ScalarAsync(db, $"SELECT sql FROM sqlite_master WHERE name = '{index}'"));

        Assert.Matches($"USING (COVERING )?INDEX {index}\\b", await PlanAsync(db, query));
    }

    static async Task<string> PlanAsync(RelayDbContext db, string query)
    {
        var lines = new List<string>();
        await using var command = await CommandAsync(db, $"EXPLAIN QUERY PLAN {query}");
        foreach (var name in new[] { "@p", "@q" })
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = 1L;
            command.Parameters.Add(parameter);
        }
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            lines.Add(reader.GetString(3));
        return string.Join("\n", lines);
    }

    static async Task<string> ScalarAsync(RelayDbContext db, string query)
    {
        await using var command = await CommandAsync(db, query);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    static async Task<DbCommand> CommandAsync(RelayDbContext db, string text)
    {
        var connection = db.Database.GetDbConnection();
        if (connection.State != System.Data.ConnectionState.Open)
            await connection.OpenAsync();
        var command = connection.CreateCommand();
        command.CommandText = text;
        return command;
    }
}
