using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// A tracked row whose changes were taken out of the unit of work's SaveChanges (<see cref="RelayDbContext.TakeModified{T}"/>),
/// for <see cref="BulkUpdate"/> to write: which properties changed, and the concurrency tokens' values as loaded.
/// </summary>
public sealed class ModifiedRow(EntityEntry entry, IReadOnlyList<IProperty> modified, IReadOnlyList<(IProperty Property, object? Loaded)> tokens)
{
    public EntityEntry Entry => entry;
    public object Entity => entry.Entity;
    public IReadOnlyList<IProperty> Modified => modified;
    public IReadOnlyList<(IProperty Property, object? Loaded)> Tokens => tokens;
}

/// <summary>
/// Writes many changed rows of one kind in the unit of work's transaction, as SaveChanges would (only the changed
/// columns, each row's concurrency tokens checked against their values as loaded), but set-based: on PostgreSQL one
/// <c>UPDATE … FROM unnest(…)</c> per set of changed columns, one array per column, on SQLite one prepared
/// <c>UPDATE</c> run per row. A job's completions change up to 1,000 requests and 1,000 attempts: SaveChanges wrote a
/// statement, its parameters and its column modifications for each, the relay's largest remaining cost (docs/performance.md).
/// Returns the rows another writer changed since they were loaded: nothing is written for those.
/// </summary>
public static class BulkUpdate
{
    public static async Task<IReadOnlyList<ModifiedRow>> UpdateAsync<T>(RelayDbContext db, IReadOnlyCollection<ModifiedRow> rows, CancellationToken ct)
        where T : class
    {
        if (rows.Count == 0)
            return [];
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("A bulk update belongs to the unit of work's transaction: begin one first.");
        var columns = TableColumns.Of<T>(db.Model);
        var key = columns.Key is [var single] ? single
            : throw new NotSupportedException($"{typeof(T).Name}: a bulk update finds rows by a single-column key.");
        var lost = new List<ModifiedRow>();
        // Rows that changed the same columns share a statement (a job's completions all change the same ones).
        foreach (var group in rows.GroupBy(r => string.Join(',', r.Modified.Select(p => p.Name))))
        {
            var batch = group.ToList();
            var set = batch[0].Modified.Select(p => columns.ByProperty[p]).ToList();
            var tokens = batch[0].Tokens.Select(t => columns.ByProperty[t.Property]).ToList();
            await using var command = transaction.Connection!.CreateCommand();
            command.Transaction = transaction;
            if (db.Database.IsNpgsql())
                lost.AddRange(await UpdatePostgresAsync(db, command, columns.Table, key, set, tokens, batch, ct));
            else
                lost.AddRange(await UpdateEachAsync(db, command, columns.Table, key, set, tokens, batch, ct));
        }
        return lost;
    }

    static async Task<IEnumerable<ModifiedRow>> UpdatePostgresAsync(RelayDbContext db, DbCommand command, string table, TableColumn key,
        List<TableColumn> set, List<TableColumn> tokens, List<ModifiedRow> rows, CancellationToken ct)
    {
        var sql = db.GetService<ISqlGenerationHelper>();
        // v(k, t0…, c0…): the key, each token as loaded, each changed column's new value; one array each.
        var arrays = new List<(string Name, TableColumn Column, Func<ModifiedRow, object?> Value)> { ("k", key, r => key.Read(r.Entity)) };
        arrays.AddRange(tokens.Select((c, i) => ($"t{i}", c, (Func<ModifiedRow, object?>)(r => c.ToProvider(r.Tokens[i].Loaded)))));
        arrays.AddRange(set.Select((c, i) => ($"c{i}", c, (Func<ModifiedRow, object?>)(r => c.Read(r.Entity)))));
        foreach (var (name, column, value) in arrays)
        {
            var values = Array.CreateInstance(column.ElementType, rows.Count);
            for (var i = 0; i < rows.Count; i++)
                values.SetValue(value(rows[i]), i);
            BulkInsert.AddParameter(command, "@" + name, values);
        }
        var keyName = sql.DelimitIdentifier(key.Name);
        command.CommandText = $"""
            UPDATE {sql.DelimitIdentifier(table)} AS t SET {string.Join(", ", set.Select((c, i) => $"{sql.DelimitIdentifier(c.Name)} = v.c{i}"))}
            FROM unnest({string.Join(", ", arrays.Select(a => $"@{a.Name}::{a.Column.StoreType}[]"))}) AS v({string.Join(", ", arrays.Select(a => a.Name))})
            WHERE t.{keyName} = v.k{string.Concat(tokens.Select((c, i) => $" AND t.{sql.DelimitIdentifier(c.Name)} IS NOT DISTINCT FROM v.t{i}"))}
            RETURNING t.{keyName}
            """;
        var written = new HashSet<object>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                written.Add(reader.GetValue(0));
        return rows.Where(r => !written.Contains(key.Read(r.Entity)!));
    }

    static async Task<IEnumerable<ModifiedRow>> UpdateEachAsync(RelayDbContext db, DbCommand command, string table, TableColumn key,
        List<TableColumn> set, List<TableColumn> tokens, List<ModifiedRow> rows, CancellationToken ct)
    {
        var sql = db.GetService<ISqlGenerationHelper>();
        // SQLite's IS is equality that holds for two nulls.
        command.CommandText = $"UPDATE {sql.DelimitIdentifier(table)} SET {string.Join(", ", set.Select((c, i) => $"{sql.DelimitIdentifier(c.Name)} = $c{i}"))} " +
            $"WHERE {sql.DelimitIdentifier(key.Name)} = $k{string.Concat(tokens.Select((c, i) => $" AND {sql.DelimitIdentifier(c.Name)} IS $t{i}"))}";
        var keyParameter = BulkInsert.AddParameter(command, "$k", DBNull.Value);
        var tokenParameters = tokens.Select((_, i) => BulkInsert.AddParameter(command, $"$t{i}", DBNull.Value)).ToList();
        var setParameters = set.Select((_, i) => BulkInsert.AddParameter(command, $"$c{i}", DBNull.Value)).ToList();
        var lost = new List<ModifiedRow>();
        foreach (var row in rows)
        {
            keyParameter.Value = key.Read(row.Entity)!;
            for (var i = 0; i < tokens.Count; i++)
                tokenParameters[i].Value = tokens[i].ToProvider(row.Tokens[i].Loaded) ?? DBNull.Value;
            for (var i = 0; i < set.Count; i++)
                setParameters[i].Value = set[i].Read(row.Entity) ?? DBNull.Value;
            if (await command.ExecuteNonQueryAsync(ct) == 0)
                lost.Add(row);
        }
        return lost;
    }
}
