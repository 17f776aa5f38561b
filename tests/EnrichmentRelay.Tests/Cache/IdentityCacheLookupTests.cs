using EnrichmentRelay.Budgets;
using EnrichmentRelay.Cache;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Cache;

/// <summary>
/// The intake's cache lookup on both engines (PostgreSQL reads the rows with a query of its own, one index lookup per
/// key): the newest unexpired row of each field asked, under any of the lead's keys, answers it; an expired row, a row of
/// another person, or a field not asked does not.
/// </summary>
public sealed class IdentityCacheLookupTests
{
    static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [MemberData(nameof(EngineLedgers.Engines), MemberType = typeof(EngineLedgers))]
    public async Task TheNewestUnexpiredRowOfEachFieldAskedAnswersIt(string engine)
    {
        await using var ledger = await EngineLedgers.CreateAsync(engine, s =>
        {
            s.AddLogging();
            s.AddMetrics();
            s.AddOptions();
            s.AddSingleton<RelayMetrics>();
            s.AddSingleton<BudgetSettings>();
            s.AddScoped<IdentityCache>();
        });
        var services = ledger.Services;
        var lead = new Lead { Email = "ada@example.com", LinkedInUrl = "https://www.linkedin.com/in/ada-l" };
        var stranger = new Lead { Email = "grace@example.com" };
        var keys = IdentityKeys.Of(lead); // email, then linkedin
        IdentityCacheRecord Row(string key, EnrichmentField field, string valuesJson, DateTimeOffset foundAt, DateTimeOffset expiresAt) => new()
        {
            Key = key, Field = field, Found = valuesJson != "[]", ValuesJson = valuesJson, Provider = ProviderName.Precept,
            RequestId = Guid.NewGuid(), KeysJson = "[]", FoundAt = foundAt, ExpiresAt = expiresAt,
        };
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.IdentityCache.AddRange(
                Row(keys[0], EnrichmentField.Email, """["old@example.com"]""", Now.AddDays(-3), Now.AddDays(80)),
                // Newer, under the lead's other key: this one answers.
                Row(keys[1], EnrichmentField.Email, """["ada@newco.com"]""", Now.AddDays(-1), Now.AddDays(80)),
                // Expired: not an answer, though the newest phone row.
                Row(keys[1], EnrichmentField.Phone, """["+15550100"]""", Now.AddHours(-1), Now.AddMinutes(-1)),
                Row(IdentityKeys.Of(stranger)[0], EnrichmentField.Phone, """["+15550199"]""", Now.AddDays(-1), Now.AddDays(80)));
            await db.SaveChangesAsync();
        }

        await using var lookup = services.CreateAsyncScope();
        var cache = lookup.ServiceProvider.GetRequiredService<IdentityCache>();
        var mine = new EnrichmentRequested { RequestId = Guid.NewGuid(), Lead = lead, Fields = [EnrichmentField.Email, EnrichmentField.Phone] };
        var unknown = new EnrichmentRequested { RequestId = Guid.NewGuid(), Lead = new Lead { Email = "nobody@example.com" }, Fields = [EnrichmentField.Email] };
        var answers = await cache.LookupAsync([mine, unknown], Now, CancellationToken.None);

        var answer = Assert.Single(answers).Value;
        Assert.Equal(mine.RequestId, Assert.Single(answers).Key);
        var email = Assert.Single(answer.Fields);
        Assert.Equal((EnrichmentField.Email, true, "ada@newco.com", ProviderName.Precept), (email.Field, email.Found, Assert.Single(email.Values), email.Provider));
        Assert.Equal([EnrichmentField.Phone], answer.Missing);
    }
}
