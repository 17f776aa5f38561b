using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Costs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Serialization;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Costs;

public sealed class CostReportTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    readonly LedgerTestHost host = new((services, _) => services.AddScoped<CostReports>());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await host.DisposeAsync();

    /// <summary>A completed request and its one attempt, ended <paramref name="ago"/> before now.</summary>
    async Task AttemptAsync(ProviderName provider, TimeSpan ago, EnrichmentField[] fields, bool email, bool phone, decimal? credits,
        Outcome outcome = Outcome.Found)
    {
        var at = host.Time.GetUtcNow() - ago;
        var request = LedgerTestHost.ValidRequest() with { Fields = fields };
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.Requests.Add(new EnrichmentRequestRecord
            {
                RequestId = request.RequestId,
                State = RequestState.Completed,
                Provider = provider,
                RequestJson = JsonSerializer.Serialize(request, RelayJson.Options),
                AcceptedAt = at - TimeSpan.FromSeconds(30),
                CompletedAt = at,
                Outcome = outcome,
                EmailsJson = JsonSerializer.Serialize(email ? new[] { "jane@acme.com" } : []),
                PhonesJson = JsonSerializer.Serialize(phone ? new[] { "+15550100" } : []),
                CreditsCharged = credits,
            });
            db.Attempts.Add(new RequestAttemptRecord
            {
                RequestId = request.RequestId, Number = 1, Provider = provider, Lane = provider.ToString().ToLowerInvariant(),
                JobId = Guid.NewGuid(), StartedAt = at - TimeSpan.FromSeconds(20), CompletedAt = at, Outcome = outcome, CreditsCharged = credits,
            });
            return await db.SaveChangesAsync();
        });
    }

    async Task JobChargedAsync(ProviderName provider, TimeSpan ago, decimal credits) => await host.InScopeAsync(async sp =>
    {
        var db = sp.GetRequiredService<RelayDbContext>();
        var at = host.Time.GetUtcNow() - ago;
        db.ProviderJobs.Add(new ProviderJobRecord
        {
            Id = Guid.NewGuid(), Provider = provider, Lane = "precept", State = ProviderJobState.Completed, RequestCount = 1,
            CreatedAt = at - TimeSpan.FromMinutes(1), CompletedAt = at, CreditsCharged = credits,
        });
        return await db.SaveChangesAsync();
    });

    Task<CostReport> ReportAsync(string window) =>
        host.InScopeAsync(sp => sp.GetRequiredService<CostReports>().ForWindowAsync(window, CancellationToken.None));

    [Fact]
    public async Task EachWindowCountsOnlyTheAttemptsThatEndedInIt()
    {
        await AttemptAsync(ProviderName.Woodpecker, TimeSpan.FromMinutes(10), [EnrichmentField.Email], email: true, phone: false, credits: 1.5m);
        await AttemptAsync(ProviderName.Woodpecker, TimeSpan.FromHours(5), [EnrichmentField.Email], email: true, phone: false, credits: 1.5m);
        await AttemptAsync(ProviderName.Woodpecker, TimeSpan.FromDays(3), [EnrichmentField.Email], email: false, phone: false, credits: 0m,
            Outcome.NotFound);
        await AttemptAsync(ProviderName.Woodpecker, TimeSpan.FromDays(31), [EnrichmentField.Email], email: true, phone: false, credits: 1.5m);

        var hour = Assert.Single((await ReportAsync("1h")).Providers);
        var day = Assert.Single((await ReportAsync("1d")).Providers);
        var month = Assert.Single((await ReportAsync("30d")).Providers);

        Assert.Equal((1, 1, 1.5m), (hour.Requests, hour.ContactsFound, hour.Credits));
        Assert.Equal((2, 2, 3m), (day.Requests, day.ContactsFound, day.Credits));
        Assert.Equal((3, 2, 3m), (month.Requests, month.ContactsFound, month.Credits));
        var email = month.Fields.Single(f => f.Field == "email");
        Assert.Equal(2.0 / 3, email.HitRate!.Value, 6);
        Assert.Equal(1.5m, email.CreditsPerFound);
        Assert.Equal(1.5m, month.CreditsPerFound);

        var report = await ReportAsync("1h");
        Assert.Equal(host.Time.GetUtcNow(), report.To);
        Assert.Equal(host.Time.GetUtcNow() - TimeSpan.FromHours(1), report.From);

        // Time moves on: the newest attempt leaves the hour.
        host.Time.Advance(TimeSpan.FromMinutes(51));
        Assert.Empty((await ReportAsync("1h")).Providers);
    }

    [Fact]
    public async Task BothFieldsAreCountedApartAndAJointChargeOnlyPerProvider()
    {
        await AttemptAsync(ProviderName.Lance, TimeSpan.FromMinutes(5), [EnrichmentField.Email, EnrichmentField.Phone], email: true, phone: false, credits: 2m);
        await AttemptAsync(ProviderName.Lance, TimeSpan.FromMinutes(6), [EnrichmentField.Email, EnrichmentField.Phone], email: true, phone: true, credits: 2m);
        await AttemptAsync(ProviderName.Lance, TimeSpan.FromMinutes(7), [EnrichmentField.Phone], email: false, phone: true, credits: 1m);
        await AttemptAsync(ProviderName.Lance, TimeSpan.FromMinutes(8), [EnrichmentField.Phone], email: false, phone: false, credits: 0m, Outcome.NotFound);

        var lance = Assert.Single((await ReportAsync("1h")).Providers);
        Assert.Equal("lance", lance.Provider);
        Assert.Equal((4, 4, 5m), (lance.Requests, lance.ContactsFound, lance.Credits));
        Assert.Equal(1.25m, lance.CreditsPerFound);

        var email = lance.Fields.Single(f => f.Field == "email");
        Assert.Equal((2, 2, 1.0), (email.Requests, email.Found, email.HitRate!.Value));
        Assert.Null(email.Credits); // both email attempts also asked for a phone: their charge is not the email's alone
        Assert.Null(email.CreditsPerFound);

        var phone = lance.Fields.Single(f => f.Field == "phone");
        Assert.Equal((4, 2, 0.5), (phone.Requests, phone.Found, phone.HitRate!.Value));
        Assert.Equal(1m, phone.Credits);
        Assert.Equal(1m, phone.CreditsPerFound); // 1 credit over the 2 phone-only attempts, 1 found
    }

    [Fact]
    public async Task AProviderThatFoundNothingHasNoCreditsPerContactAndPerJobChargesCount()
    {
        await AttemptAsync(ProviderName.Precept, TimeSpan.FromMinutes(3), [EnrichmentField.Email], email: false, phone: false, credits: null, Outcome.NotFound);
        await AttemptAsync(ProviderName.Precept, TimeSpan.FromMinutes(4), [EnrichmentField.Email], email: false, phone: false, credits: null, Outcome.Failed);
        await JobChargedAsync(ProviderName.Precept, TimeSpan.FromMinutes(3), 2m);
        await JobChargedAsync(ProviderName.Precept, TimeSpan.FromHours(2), 7m);
        await AttemptAsync(ProviderName.Woodpecker, TimeSpan.FromMinutes(2), [EnrichmentField.Email], email: true, phone: false, credits: 1.5m);

        var report = await ReportAsync("1h");
        Assert.Equal(["precept", "woodpecker"], report.Providers.Select(p => p.Provider));
        var precept = report.Providers[0];
        Assert.Equal((2, 0, 2m), (precept.Requests, precept.ContactsFound, precept.Credits));
        Assert.Null(precept.CreditsPerFound);
        var email = precept.Fields.Single(f => f.Field == "email");
        Assert.Equal(0.0, email.HitRate);
        Assert.Null(email.Credits); // Precept charges per job, no attempt: nothing to give the field
        Assert.Null(email.CreditsPerFound);
        Assert.Null(precept.Fields.Single(f => f.Field == "phone").HitRate);

        Assert.Equal(9m, (await ReportAsync("1d")).Providers[0].Credits);
    }

    [Fact]
    public async Task ThirtyDaysOfTenThousandAttemptsAreReportedAndTimed()
    {
        const int Count = 10_000;
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            for (var i = 0; i < Count; i++)
            {
                var at = host.Time.GetUtcNow() - TimeSpan.FromMinutes(i * 4); // spread over ~28 days
                var request = LedgerTestHost.ValidRequest() with { Fields = i % 2 == 0 ? [EnrichmentField.Email] : [EnrichmentField.Email, EnrichmentField.Phone] };
                db.Requests.Add(new EnrichmentRequestRecord
                {
                    RequestId = request.RequestId, State = RequestState.Completed, Provider = ProviderName.Woodpecker,
                    RequestJson = JsonSerializer.Serialize(request, RelayJson.Options), AcceptedAt = at, CompletedAt = at, Outcome = Outcome.Found,
                    EmailsJson = i % 3 == 0 ? "[\"a@acme.com\"]" : "[]", PhonesJson = "[]", CreditsCharged = i % 3 == 0 ? 1.5m : 0m,
                });
                db.Attempts.Add(new RequestAttemptRecord
                {
                    RequestId = request.RequestId, Number = 1, Provider = ProviderName.Woodpecker, Lane = "leads", JobId = Guid.NewGuid(),
                    StartedAt = at, CompletedAt = at, Outcome = Outcome.Found, CreditsCharged = i % 3 == 0 ? 1.5m : 0m,
                });
            }
            return await db.SaveChangesAsync();
        });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var month = Assert.Single((await ReportAsync("30d")).Providers);
        var elapsed = clock.Elapsed;
        var found = Enumerable.Range(0, Count).Count(i => i % 3 == 0);
        Assert.Equal((Count, found, found * 1.5m), (month.Requests, month.ContactsFound, month.Credits));
        Assert.Equal(Count / 2, month.Fields.Single(f => f.Field == "phone").Requests);
        output.WriteLine($"[figure] cost report over {Count:N0} attempts in 30 days on SQLite: {elapsed.TotalMilliseconds:0} ms");
    }
}
