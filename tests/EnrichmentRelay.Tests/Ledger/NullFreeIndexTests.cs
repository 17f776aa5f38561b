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
        var definition = await db.Database.SqlQuery<string>($"""SELECT sql AS "Value" FROM sqlite_master WHERE name = {index}""").SingleAsync();
        Assert.Contains("IS NOT NULL", definition);

        Assert.Matches($"USING (COVERING )?INDEX {index}\\b", await PlanAsync(db, query));
    }

    static async Task<string> PlanAsync(RelayDbContext db, string query)
    {
        // EXPLAIN answers rows of four columns, which SqlQuery cannot read: a command on the context's connection.
        await db.Database.OpenConnectionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = $"EXPLAIN QUERY PLAN {query}";
        foreach (var name in new[] { "@p", "@q" })
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = 1L;
            command.Parameters.Add(parameter);
        }
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            lines.Add(reader.GetString(3));
        return string.Join("\n", lines);
    }
}
