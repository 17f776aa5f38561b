using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// A mapped column: its property, name, store type, the CLR type of its provider values, how to read one from an entity,
/// and how to store a value not read from one (an original value) as the column does, through its converter.
/// </summary>
sealed record TableColumn(IProperty Property, string Name, string StoreType, Type ElementType, Func<object, object?> Read,
    Func<object?, object?> ToProvider);

/// <summary>
/// The columns of an entity's table as SaveChanges writes them (names, store types, value converters), read from the EF
/// model once per model, for the ledger's bulk writes (<see cref="BulkInsert"/>, <see cref="BulkUpdate"/>).
/// </summary>
sealed record TableColumns(string Table, IReadOnlyList<TableColumn> Insert, IReadOnlyList<TableColumn> Key,
    IReadOnlyDictionary<IProperty, TableColumn> ByProperty)
{
    static readonly ConditionalWeakTable<IModel, Dictionary<Type, TableColumns>> Cache = [];

    public static TableColumns Of<T>(IModel model)
    {
        var byType = Cache.GetOrCreateValue(model);
        lock (byType)
        {
            if (!byType.TryGetValue(typeof(T), out var columns))
                byType[typeof(T)] = columns = Read(model.FindEntityType(typeof(T))
                    ?? throw new InvalidOperationException($"{typeof(T).Name} is not an entity of the ledger."));
            return columns;
        }
    }

    static TableColumns Read(IEntityType entity)
    {
        // The database's own: an identity key (a Guid key is set by the relay, or by EF Core on the client).
        static bool Generated(IProperty p) => p.IsPrimaryKey() && p.ValueGenerated != ValueGenerated.Never && p.ClrType != typeof(Guid);
        var all = entity.GetProperties().Where(p => !p.IsShadowProperty()).Select(p =>
        {
            var mapping = p.GetRelationalTypeMapping();
            var converter = mapping.Converter;
            var providerType = converter?.ProviderClrType ?? p.ClrType;
            // A nullable column of a value type takes a nullable element (an array of Guid? for a uuid column that may be null).
            var elementType = providerType.IsValueType && Nullable.GetUnderlyingType(providerType) is null && p.IsNullable
                ? typeof(Nullable<>).MakeGenericType(providerType)
                : providerType;
            var getter = p.GetGetter();
            Func<object, object?> read = converter is null
                ? getter.GetClrValueUsingContainingEntity
                : entity => converter.ConvertToProvider(getter.GetClrValueUsingContainingEntity(entity));
            return new TableColumn(p, p.GetColumnName(), p.GetColumnType(), elementType, read,
                converter is null ? value => value : converter.ConvertToProvider);
        }).ToList();
        return new TableColumns(entity.GetTableName()!, all.Where(c => !Generated(c.Property)).ToList(),
            all.Where(c => c.Property.IsPrimaryKey()).ToList(), all.ToDictionary(c => c.Property));
    }
}
