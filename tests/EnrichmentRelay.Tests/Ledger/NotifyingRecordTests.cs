using System.Reflection;
using System.Runtime.CompilerServices;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Ledger;

/// <summary>
/// The rows the change tracker does not snapshot (<see cref="NotifyingRecord"/>) tell it of every change: a mapped
/// property whose setter did not would have its changes silently left unsaved, so each one is set here and must be
/// heard; and a change is saved with no detection of changes at all.
/// </summary>
public sealed class NotifyingRecordTests
{
    static readonly DateTimeOffset At = new(2026, 12, 6, 8, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, string> NotifyingMembers()
    {
        var data = new TheoryData<string, string>();
        // The model only: no database is opened.
        using var db = new SqliteRelayDbContext(new DbContextOptionsBuilder<SqliteRelayDbContext>().UseSqlite("Data Source=:memory:").Options);
        var model = db.Model;
        foreach (var type in model.GetEntityTypes().Where(t => t.GetChangeTrackingStrategy() != ChangeTrackingStrategy.Snapshot))
            foreach (var member in type.GetProperties().Cast<Microsoft.EntityFrameworkCore.Metadata.IPropertyBase>().Concat(type.GetNavigations()))
                if (member.PropertyInfo is not null)
                    data.Add(type.ClrType.Name, member.Name);
        return data;
    }

    [Fact]
    public void TheRowsTrackedByTheThousandAreTheOnesThatNotify()
    {
        var names = NotifyingMembers().Select(row => (string)row[0]).Distinct().Order();
        Assert.Equal([nameof(EnrichmentRequestRecord), nameof(RequestAttemptRecord)], names);
    }

    [Theory]
    [MemberData(nameof(NotifyingMembers))]
    public void SettingAMappedMemberTellsTheTracker(string type, string member)
    {
        var clrType = typeof(NotifyingRecord).Assembly.GetTypes().Single(t => t.Name == type);
        var row = (NotifyingRecord)RuntimeHelpers.GetUninitializedObject(clrType);
        var property = clrType.GetProperty(member, BindingFlags.Public | BindingFlags.Instance)!;
        var heard = new List<string>();
        var before = property.GetValue(row);
        row.PropertyChanged += (_, e) => heard.Add($"changed {e.PropertyName} from {Show(before)} to {Show(property.GetValue(row))}");

        var value = Different(property.PropertyType, before);
        property.SetValue(row, value);
        property.SetValue(row, value); // the same again: no change to tell of

        Assert.Equal([$"changed {member} from {Show(before)} to {Show(value)}"], heard);
    }

    [Fact]
    public async Task AChangedRequestAndAttemptAreSavedWithNoDetectionOfChanges()
    {
        await using var ledger = await EngineLedgers.CreateAsync("Sqlite");
        var id = Guid.NewGuid();
        await using (var scope = ledger.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.Requests.Add(new EnrichmentRequestRecord
            {
                RequestId = id, State = RequestState.Submitted, Provider = ProviderName.Lance, Lane = "lance", RequestJson = "{}", AcceptedAt = At,
            });
            db.Attempts.Add(new RequestAttemptRecord { RequestId = id, Number = 1, Provider = ProviderName.Lance, Lane = "lance", StartedAt = At });
            await db.SaveChangesAsync();
        }
        await using (var scope = ledger.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            var request = await db.Requests.SingleAsync(r => r.RequestId == id);
            var attempt = await db.Attempts.SingleAsync(a => a.RequestId == id);
            request.Detail = "found";
            request.Version++;
            attempt.Outcome = Outcome.Found;

            Assert.Equal(EntityState.Modified, db.Entry(request).State);
            Assert.Equal(0, db.Entry(request).Property(r => r.Version).OriginalValue);
            Assert.Equal([nameof(EnrichmentRequestRecord.Detail), nameof(EnrichmentRequestRecord.Version)],
                db.Entry(request).Properties.Where(p => p.IsModified).Select(p => p.Metadata.Name).Order());
            await db.SaveChangesAsync();
        }
        await using (var scope = ledger.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            var request = await db.Requests.AsNoTracking().SingleAsync(r => r.RequestId == id);
            Assert.Equal(("found", 1), (request.Detail, request.Version));
            Assert.Equal(Outcome.Found, (await db.Attempts.AsNoTracking().SingleAsync(a => a.RequestId == id)).Outcome);
        }
    }

    /// <summary>A value of <paramref name="type"/> other than <paramref name="current"/>.</summary>
    static object Different(Type type, object? current)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        object[] candidates = underlying switch
        {
            _ when underlying == typeof(string) => ["a", "b"],
            _ when underlying == typeof(Guid) => [Guid.Parse("11111111-1111-1111-1111-111111111111"), Guid.Parse("22222222-2222-2222-2222-222222222222")],
            _ when underlying == typeof(int) => [1, 2],
            _ when underlying == typeof(long) => [1L, 2L],
            _ when underlying == typeof(decimal) => [1.5m, 2.5m],
            _ when underlying == typeof(bool) => [true, false],
            _ when underlying == typeof(DateTimeOffset) => [At, At.AddSeconds(1)],
            _ when underlying.IsEnum => Enum.GetValues(underlying).Cast<object>().ToArray(),
            _ when underlying.IsClass => [RuntimeHelpers.GetUninitializedObject(underlying), RuntimeHelpers.GetUninitializedObject(underlying)],
            _ => throw new NotSupportedException($"No test values for {underlying.Name}: add some."),
        };
        return candidates.First(c => !Equals(c, current));
    }

    static string Show(object? value) => value switch
    {
        null => "null",
        _ when value.GetType().IsClass && value is not string => $"a {value.GetType().Name}",
        _ => value.ToString()!,
    };
}
