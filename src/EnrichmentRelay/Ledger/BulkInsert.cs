using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// Inserts many new rows of one kind in the unit of work's transaction, untracked, the way SaveChanges would write them
/// (column names, types and value converters come from the EF model): on PostgreSQL one statement whose values are one
/// array per column (<c>INSERT … SELECT FROM unnest(…)</c>), on SQLite one prepared statement run once per row.
/// For rows that are only ever added in bulk (the intake's requests): SaveChanges builds SQL text, a parameter and a
/// column modification per value, which was the largest share of the relay's allocations (docs/performance.md).
/// A key the database generates (an identity column) is left to it and not read back: read the rows again for it.
/// A unique violation throws a <see cref="DbException"/>.
/// </summary>
public static class BulkInsert
{
    public static async Task InsertAsync<T>(RelayDbContext db, IReadOnlyCollection<T> rows, CancellationToken ct) where T : class
    {
        if (rows.Count == 0)
            return;
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("A bulk insert belongs to the unit of work's transaction: begin one first.");
        var columns = TableColumns.Of<T>(db.Model);
        var sql = db.GetService<ISqlGenerationHelper>();
        var table = sql.DelimitIdentifier(columns.Table);
        var names = string.Join(", ", columns.Insert.Select(c => sql.DelimitIdentifier(c.Name)));

        await using var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        if (db.Database.IsNpgsql())
        {
            // One array per column: the statement's text and its parameters are the same whatever the number of rows.
            command.CommandText = $"INSERT INTO {table} ({names}) SELECT * FROM unnest({string.Join(", ",
                columns.Insert.Select((c, i) => $"@c{i}::{c.StoreType}[]"))})";
            for (var i = 0; i < columns.Insert.Count; i++)
            {
                var column = columns.Insert[i];
                var values = Array.CreateInstance(column.ElementType, rows.Count);
                var row = 0;
                foreach (var entity in rows)
                    values.SetValue(column.Read(entity), row++);
                AddParameter(command, $"@c{i}", values);
            }
            await command.ExecuteNonQueryAsync(ct);
            return;
        }

        command.CommandText = $"INSERT INTO {table} ({names}) VALUES ({string.Join(", ", columns.Insert.Select((_, i) => $"$c{i}"))})";
        var parameters = columns.Insert.Select((_, i) => AddParameter(command, $"$c{i}", DBNull.Value)).ToList();
        foreach (var entity in rows)
        {
            for (var i = 0; i < parameters.Count; i++)
                parameters[i].Value = columns.Insert[i].Read(entity) ?? DBNull.Value;
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    internal static DbParameter AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter;
    }
}
