using System.Diagnostics.Metrics;
using System.Text.Json;
using EnrichmentRelay.Cache;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Tests.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Cache;

/// <summary>The identity cache: its keys, then through intake, the flusher and the ledger with a Lance → Precept waterfall.</summary>
public sealed class IdentityCacheTests
{
    [Fact]
    public void EachIdentifierOfALeadIsAKeyInOneNormalizedForm()
    {
        var one = IdentityKeys.Of(new Lead
        {
            Email = " Jane.Doe@ACME.com ", LinkedInUrl = "http://uk.linkedin.com/in/Jane-Doe/details/", FirstName = "Jane ", LastName = "DOE",
            CompanyDomain = "https://www.Acme.com/about", LancePersonId = "550E8400-E29B-41D4-A716-446655440001",
            WoodpeckerLead = JsonSerializer.SerializeToElement(new { uid = "0SVOUN5zYlkzJ5fMrBxUdiQ_0000" }),
        });
        var other = IdentityKeys.Of(new Lead
        {
            Email = "jane.doe@acme.com", LinkedInUrl = "https://www.linkedin.com/in/jane-doe", FirstName = "jane", LastName = "doe",
            CompanyDomain = "acme.com", LancePersonId = "550e8400-e29b-41d4-a716-446655440001",
            WoodpeckerLead = JsonSerializer.SerializeToElement(new { uid = "0SVOUN5zYlkzJ5fMrBxUdiQ_0000", full_name = "Jane Doe" }),
        });
        Assert.Equal(5, one.Count);
        Assert.Equal(one, other);
        Assert.Equal(["email", "linkedin", "name", "woodpecker", "lance"], one.Select(k => k.Split(':')[0]));
        Assert.All(one, k => Assert.True(k.Length <= RelayDbContext.IdentityKeyLength));
        // No identifier in clear.
        Assert.DoesNotContain(one, k => k.Contains("acme", StringComparison.OrdinalIgnoreCase));

        // A name needs a company domain to be an identity; a Woodpecker uid keeps its case; nothing is no key.
        Assert.Empty(IdentityKeys.Of(new Lead { FirstName = "Jane", LastName = "Doe", CompanyName = "Acme" }));
        Assert.NotEqual(IdentityKeys.Of(new Lead { WoodpeckerLead = JsonSerializer.SerializeToElement(new { uid = "Ab" }) }),
            IdentityKeys.Of(new Lead { WoodpeckerLead = JsonSerializer.SerializeToElement(new { uid = "ab" }) }));
        Assert.Empty(IdentityKeys.Of(new Lead { LinkedInUrl = "https://www.linkedin.com/company/acme" }));
        Assert.Empty(IdentityKeys.Of(null));
    }

    [Fact]
    public void TheSettingsAreCheckedAtStartUp()
    {
        Assert.Empty(Problems(new CacheOptions()));
        Assert.Empty(Problems(new CacheOptions { FoundFor = TimeSpan.Zero, NotFoundFor = TimeSpan.Zero }));
        Assert.Contains("Cache:FoundFor", Assert.Single(Problems(new CacheOptions { FoundFor = TimeSpan.FromDays(-1) })).ErrorMessage);
        Assert.Contains("Cache:NotFoundFor", Assert.Single(Problems(new CacheOptions { NotFoundFor = TimeSpan.FromDays(4000) })).ErrorMessage);

        static List<System.ComponentModel.DataAnnotations.ValidationResult> Problems(CacheOptions options) =>
            options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();
    }

    static int people;

    /// <summary>A person Lance (by id) and Precept (by name and LinkedIn) can both identify; each call a new one.</summary>
    static Lead Person()
    {
        var n = Interlocked.Increment(ref people);
        return new Lead
        {
            LancePersonId = Guid.NewGuid().ToString(), FirstName = "Jane", LastName = $"Doe{n}", CompanyName = "Acme", CompanyDomain = "acme.com",
            LinkedInUrl = $"https://www.linkedin.com/in/jane-doe-{n}-{Guid.NewGuid():N}",
        };
    }

    static EnrichmentRequested Request(Lead lead, params EnrichmentField[] fields) => new()
    {
        RequestId = Guid.NewGuid(),
        Lead = lead,
        Fields = fields.Length == 0 ? [EnrichmentField.Email, EnrichmentField.Phone] : fields,
        Providers = [ProviderName.Lance, ProviderName.Precept],
    };

    sealed class Ledger : IAsyncDisposable
    {
        public readonly WaterfallProvider Lance = new(ProviderName.Lance);
        public readonly WaterfallProvider Precept = new(ProviderName.Precept);
        public readonly LedgerTestHost Host;

        public Ledger(TimeSpan? foundFor = null, TimeSpan? notFoundFor = null) =>
            Host = new LedgerTestHost((services, _) =>
            {
                services.AddSingleton<IEnrichmentProvider>(Lance);
                services.AddSingleton<IEnrichmentProvider>(Precept);
                services.AddSingleton(Options.Create(new WaterfallOptions()));
                services.AddScoped<EnrichmentRelay.Costs.CostReports>();
                services.AddSingleton(Options.Create(new CacheOptions
                {
                    FoundFor = foundFor ?? TimeSpan.FromDays(90), NotFoundFor = notFoundFor ?? TimeSpan.FromDays(7),
                }));
            }, scriptedProvider: false);

        /// <summary>Every waiting request goes to its provider, Lance first then Precept (the waterfall's order).</summary>
        public async Task FlushAsync()
        {
            foreach (var provider in new[] { Lance, Precept })
            {
                Host.Time.Advance(provider.FlushWindow);
                await Host.Services.GetRequiredService<BatchFlusher>().FlushAsync(provider.Lane, CancellationToken.None);
            }
        }

        public async Task<EnrichmentCompleted> CompletionAsync(Guid requestId)
        {
            var row = Assert.Single(await Host.OutboxAsync(), m => m.MessageId == EnrichmentCompleted.EventIdFor(requestId));
            return JsonSerializer.Deserialize<EnrichmentCompleted>(row.Body, RelayJson.Options)!;
        }

        public Task<List<IdentityCacheRecord>> RowsAsync() =>
            Host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().IdentityCache.AsNoTracking().ToListAsync());

        public int Calls => Lance.Calls.Count + Precept.Calls.Count;

        public Task<int> SweepFollowersAsync() => Host.Services.GetRequiredService<FollowerSweep>().SweepAsync(CancellationToken.None);

        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    [Fact]
    public async Task TheSamePersonAskedAgainCompletesAtOnceFromTheCacheWithNoCallAndNoCredits()
    {
        await using var ledger = new Ledger();
        var meters = ledger.Host.Services.GetRequiredService<IMeterFactory>();
        using var lookups = new MetricCollector<long>(meters, RelayMetrics.MeterName, "relay.cache.lookups");
        using var saved = new MetricCollector<double>(meters, RelayMetrics.MeterName, "relay.cache.credits_saved");
        var person = Person();
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        ledger.Precept.Answer = _ => new LeadResult(Outcome.Found, Phones: ["+15550100"], CreditsCharged: 10);
        await ledger.Host.ReceiveAsync(Request(person));
        await ledger.FlushAsync();
        Assert.Equal(2, ledger.Calls);
        // Stored under each of the lead's keys (Lance id, LinkedIn, name at domain), per field, with the provider that found it.
        var rows = await ledger.RowsAsync();
        Assert.Equal(6, rows.Count);
        Assert.All(rows.Where(r => r.Field == EnrichmentField.Email), r => Assert.Equal((true, ProviderName.Lance), (r.Found, r.Provider)));
        Assert.All(rows.Where(r => r.Field == EnrichmentField.Phone), r => Assert.Equal((true, ProviderName.Precept), (r.Found, r.Provider)));
        // Kept from when the provider's attempt ended: Lance's before Precept's.
        Assert.All(rows, r => Assert.Equal(r.FoundAt.AddDays(90), r.ExpiresAt));
        Assert.True(rows.First(r => r.Field == EnrichmentField.Email).FoundAt < rows.First(r => r.Field == EnrichmentField.Phone).FoundAt);

        // Known now by its LinkedIn profile alone, written another way.
        var again = Request(new Lead { LinkedInUrl = person.LinkedInUrl!.Replace("https://www.", "http://") + "/", LastName = "Doe" });
        Assert.Equal(IntakeResult.Accepted, await ledger.Host.ReceiveAsync(again));
        var completed = await ledger.CompletionAsync(again.RequestId);
        Assert.Equal(2, ledger.Calls);
        Assert.Equal((Outcome.Found, 0m), (completed.Outcome, completed.CreditsCharged));
        Assert.Equal(["jane@acme.com"], completed.Emails);
        Assert.Equal(["+15550100"], completed.Phones);
        Assert.All(completed.Attempts, a => Assert.Equal((true, 0m), (a.FromCache, a.CreditsCharged)));
        Assert.Equal([ProviderName.Lance, ProviderName.Precept], completed.Attempts.Select(a => a.Provider));
        Assert.Equal([
            new FoundContact { Field = EnrichmentField.Email, Value = "jane@acme.com", Provider = ProviderName.Lance },
            new FoundContact { Field = EnrichmentField.Phone, Value = "+15550100", Provider = ProviderName.Precept },
        ], completed.Contacts);
        Assert.Equal(RequestState.Completed, (await ledger.Host.RequestsAsync()).Single(r => r.RequestId == again.RequestId).State);
        // A cache answer is not stored again (its found_at stays the provider's).
        Assert.Equal(6, (await ledger.RowsAsync()).Count);

        Assert.Equal([("miss", 1L), ("hit", 1L)], lookups.GetMeasurementSnapshot().Where(m => m.Value > 0).Select(m => ((string)m.Tags["result"]!, m.Value)));
        // Lance's price of an email (1) and Precept's of a lead with a phone (1 + 10), the budget price table's defaults.
        Assert.Equal((1d, 11d), (Saved("lance"), Saved("precept")));
        double Saved(string provider) => saved.GetMeasurementSnapshot().Where(m => Equals(m.Tags["provider"], provider)).Sum(m => m.Value);

        // The cost report: the providers' own figures count only the calls; the cache's answers and savings apart.
        var report = await ledger.Host.InScopeAsync(sp => sp.GetRequiredService<EnrichmentRelay.Costs.CostReports>().ForWindowAsync("1h", CancellationToken.None));
        Assert.Equal((1, 1m), (report.Providers.Single(p => p.Provider == "lance").Requests, report.Providers.Single(p => p.Provider == "lance").Credits));
        Assert.Equal(new EnrichmentRelay.Costs.CacheSavings(Hits: 2, FieldsAnswered: 2, Found: 2, CreditsSaved: 12m), report.Cache);
    }

    [Fact]
    public async Task APartialAnswerKeepsTheCachedContactsAndAsksOnlyTheMissingFields()
    {
        await using var ledger = new Ledger();
        var person = Person();
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        await ledger.Host.ReceiveAsync(Request(person, EnrichmentField.Email));
        await ledger.FlushAsync();

        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Phones: ["+15550100"], CreditsCharged: 1);
        var both = Request(person);
        await ledger.Host.ReceiveAsync(both);
        var waiting = (await ledger.Host.RequestsAsync()).Single(r => r.RequestId == both.RequestId);
        Assert.Equal((RequestState.Accepted, ProviderName.Lance), (waiting.State, waiting.Provider!.Value));
        await ledger.FlushAsync();

        var lead = Assert.Single(ledger.Lance.Calls[^1]);
        Assert.Equal([EnrichmentField.Phone], lead.Request.Fields);
        var completed = await ledger.CompletionAsync(both.RequestId);
        Assert.Equal((Outcome.Found, 1m), (completed.Outcome, completed.CreditsCharged));
        Assert.Equal([true, false], completed.Attempts.Select(a => a.FromCache));
        Assert.Equal([new FieldOutcome { Field = EnrichmentField.Email, Outcome = Outcome.Found }], completed.Attempts[0].Fields);
        Assert.Equal([new FieldOutcome { Field = EnrichmentField.Phone, Outcome = Outcome.Found }], completed.Attempts[1].Fields);
        Assert.Equal(["jane@acme.com"], completed.Emails);
        Assert.Equal(["+15550100"], completed.Phones);
        Assert.All(completed.Contacts, c => Assert.Equal(ProviderName.Lance, c.Provider));
        // Only the phone, the field this request paid for, was stored by it.
        Assert.All((await ledger.RowsAsync()).Where(r => r.RequestId == both.RequestId), r => Assert.Equal(EnrichmentField.Phone, r.Field));
    }

    [Fact]
    public async Task FoundContactsExpireAfterFoundForAndMissesSoonerAfterNotFoundFor()
    {
        await using var ledger = new Ledger(TimeSpan.FromDays(30), TimeSpan.FromDays(2));
        var person = Person();
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        ledger.Precept.Answer = _ => new LeadResult(Outcome.NotFound, CreditsCharged: 1);
        await ledger.Host.ReceiveAsync(Request(person));
        await ledger.FlushAsync();
        Assert.Equal(2, ledger.Calls);
        var rows = await ledger.RowsAsync();
        Assert.All(rows.Where(r => r.Field == EnrichmentField.Phone), r => Assert.Equal((false, r.FoundAt.AddDays(2)), (r.Found, r.ExpiresAt)));
        Assert.All(rows.Where(r => r.Field == EnrichmentField.Email), r => Assert.Equal((true, r.FoundAt.AddDays(30)), (r.Found, r.ExpiresAt)));

        // Within both: a whole answer, the phone "not found" as the cache remembers it.
        ledger.Host.Time.Advance(TimeSpan.FromDays(1));
        var soon = Request(person);
        await ledger.Host.ReceiveAsync(soon);
        var answered = await ledger.CompletionAsync(soon.RequestId);
        Assert.Equal(2, ledger.Calls);
        Assert.Equal([new FieldOutcome { Field = EnrichmentField.Phone, Outcome = Outcome.NotFound }],
            answered.Attempts.Single(a => a.Provider == ProviderName.Precept).Fields);

        // Past NotFoundFor: the phone is asked again (of the first provider that can look), the email still not.
        ledger.Host.Time.Advance(TimeSpan.FromDays(2));
        var later = Request(person);
        await ledger.Host.ReceiveAsync(later);
        await ledger.FlushAsync();
        Assert.Equal([EnrichmentField.Phone], Assert.Single(ledger.Lance.Calls[^1]).Request.Fields);

        // Past FoundFor: everything is asked again.
        ledger.Host.Time.Advance(TimeSpan.FromDays(30));
        var calls = ledger.Calls;
        var expired = Request(person);
        await ledger.Host.ReceiveAsync(expired);
        await ledger.FlushAsync();
        Assert.Equal([EnrichmentField.Email, EnrichmentField.Phone], Assert.Single(ledger.Lance.Calls[^1]).Request.Fields);
        Assert.True(ledger.Calls > calls);

        // Retention removes what has expired.
        var before = (await ledger.RowsAsync()).Count;
        var retention = ActivatorUtilities.CreateInstance<LedgerRetention>(ledger.Host.Services, Options.Create(new LedgerOptions()));
        await retention.DeleteExpiredAsync(CancellationToken.None);
        var after = await ledger.RowsAsync();
        Assert.True(after.Count < before);
        Assert.All(after, r => Assert.True(r.ExpiresAt > ledger.Host.Time.GetUtcNow()));
    }

    [Theory]
    [InlineData(0, 7)]
    [InlineData(90, 0)]
    public async Task ZeroSwitchesTheCacheOrItsMissesOff(int foundForDays, int notFoundForDays)
    {
        await using var ledger = new Ledger(TimeSpan.FromDays(foundForDays), TimeSpan.FromDays(notFoundForDays));
        var person = Person();
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        ledger.Precept.Answer = _ => new LeadResult(Outcome.NotFound);
        await ledger.Host.ReceiveAsync(Request(person));
        await ledger.FlushAsync();
        var rows = await ledger.RowsAsync();
        Assert.DoesNotContain(rows, r => !r.Found);
        Assert.Equal(foundForDays > 0, rows.Count > 0);

        await ledger.Host.ReceiveAsync(Request(person));
        await ledger.FlushAsync();
        // Off: both fields are asked again; misses off: the phone is.
        Assert.Equal(foundForDays > 0 ? [EnrichmentField.Phone] : [EnrichmentField.Email, EnrichmentField.Phone],
            Assert.Single(ledger.Lance.Calls[^1]).Request.Fields);
    }

    [Theory]
    [InlineData(Outcome.Failed)]
    [InlineData(Outcome.TimedOut)]
    [InlineData(Outcome.InsufficientCredits)]
    [InlineData(Outcome.Rejected)]
    public async Task WhatNobodyLookedForIsNotCached(Outcome outcome)
    {
        await using var ledger = new Ledger();
        ledger.Lance.Answer = _ => new LeadResult(outcome, Detail: "no");
        ledger.Precept.Answer = _ => new LeadResult(outcome, Detail: "no");
        await ledger.Host.ReceiveAsync(Request(Person()));
        await ledger.FlushAsync();
        Assert.Empty(await ledger.RowsAsync());
    }

    [Fact]
    public async Task ForgettingAPersonDeletesEveryRowOfTheirsUnderAnyKeyAndNoOneElses()
    {
        await using var ledger = new Ledger();
        var person = Person();
        var someoneElse = Person();
        ledger.Lance.Answer = lead => new LeadResult(Outcome.Found,
            Emails: [lead.Request.Lead!.LastName == person.LastName ? "jane@acme.com" : "other@acme.com"], CreditsCharged: 1);
        await ledger.Host.ReceiveBatchAsync(new IncomingRequest(Request(person, EnrichmentField.Email), null),
            new IncomingRequest(Request(someoneElse, EnrichmentField.Email), null));
        await ledger.FlushAsync();
        Assert.Equal(6, (await ledger.RowsAsync()).Count);

        // By the email that was found, written another way: never a key of the lead itself, but stored with its rows.
        var forgotten = await ledger.Host.InScopeAsync(sp =>
            sp.GetRequiredService<IdentityCache>().ForgetAsync(IdentityKeys.Of(new Lead { Email = " JANE@acme.com" }), CancellationToken.None));
        Assert.Equal(3, forgotten.RowsDeleted);
        var left = await ledger.RowsAsync();
        Assert.Equal(3, left.Count);
        Assert.All(left, r => Assert.Equal("[\"other@acme.com\"]", r.ValuesJson));

        // Asked again, the person goes to a provider.
        var calls = ledger.Calls;
        await ledger.Host.ReceiveAsync(Request(person, EnrichmentField.Email));
        await ledger.FlushAsync();
        Assert.Equal(calls + 1, ledger.Calls);
    }

    [Fact]
    public async Task AnUnreadableCachedRowIsSkippedAndTheRestOfTheBatchIsStillAnswered()
    {
        await using var ledger = new Ledger();
        var good = Person();
        var bad = Person();
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        await ledger.Host.ReceiveBatchAsync(new IncomingRequest(Request(good, EnrichmentField.Email), null),
            new IncomingRequest(Request(bad, EnrichmentField.Email), null));
        await ledger.FlushAsync();
        await ledger.Host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().IdentityCache
            .Where(c => c.RequestId != Guid.Empty && c.KeysJson.Contains(IdentityKeys.Of(new Lead { LancePersonId = bad.LancePersonId })[0]))
            .ExecuteUpdateAsync(set => set.SetProperty(c => c.ValuesJson, "{not json")));

        var calls = ledger.Calls;
        var fromCache = Request(good, EnrichmentField.Email);
        var corrupt = Request(bad, EnrichmentField.Email);
        await ledger.Host.ReceiveBatchAsync(new IncomingRequest(fromCache, null), new IncomingRequest(corrupt, null));
        Assert.True((await ledger.CompletionAsync(fromCache.RequestId)).Attempts.Single().FromCache);
        await ledger.FlushAsync();
        Assert.Equal(calls + 1, ledger.Calls);
        Assert.Equal(corrupt.RequestId, Assert.Single(ledger.Lance.Calls[^1]).RequestId);
        Assert.Equal(Outcome.Found, (await ledger.CompletionAsync(corrupt.RequestId)).Outcome);
    }

    // Coalescing: identical requests in flight share one call.

    [Fact]
    public async Task IdenticalRequestsInFlightMakeOneCallAndEachCompletesOnceWithTheLeadersAnswer()
    {
        await using var ledger = new Ledger();
        var person = Person();
        var other = Person();
        ledger.Lance.Answer = lead => new LeadResult(Outcome.Found, Emails: [$"{lead.Request.Lead!.LastName}@acme.com"], Phones: ["+15550100"], CreditsCharged: 2);
        var identical = Enumerable.Range(0, 5).Select(_ => Request(person)).ToList();
        var different = Request(other);
        await ledger.Host.ReceiveBatchAsync([.. identical.Take(3).Select(r => new IncomingRequest(r, null)), new IncomingRequest(different, null)]);
        // Later, across batches (as from another instance): they follow the leader stored before.
        await ledger.Host.ReceiveAsync(identical[3]);
        await ledger.Host.ReceiveBatchAsync(new IncomingRequest(identical[4], null));
        var rows = await ledger.Host.RequestsAsync();
        Assert.Equal(4, rows.Count(r => r.State == RequestState.Following && r.LeaderRequestId == identical[0].RequestId));

        await ledger.FlushAsync();
        // One call, one lead per person.
        Assert.Equal(new[] { identical[0].RequestId, different.RequestId }.Order(), Assert.Single(ledger.Lance.Calls).Select(l => l.RequestId).Order());
        Assert.Equal(4, await ledger.SweepFollowersAsync());
        Assert.Equal(0, await ledger.SweepFollowersAsync());

        var leader = await ledger.CompletionAsync(identical[0].RequestId);
        Assert.Equal(2m, leader.CreditsCharged);
        foreach (var follower in identical.Skip(1))
        {
            var completed = await ledger.CompletionAsync(follower.RequestId);
            Assert.Equal((leader.Outcome, 0m), (completed.Outcome, completed.CreditsCharged));
            Assert.Equal(leader.Emails, completed.Emails);
            Assert.Equal(leader.Contacts, completed.Contacts);
            var attempt = Assert.Single(completed.Attempts);
            Assert.Equal((true, ProviderName.Lance, 0m), (attempt.FromCache, attempt.Provider, attempt.CreditsCharged));
            Assert.Contains(identical[0].RequestId.ToString("D"), attempt.Detail);
        }
        Assert.Equal(6, (await ledger.Host.OutboxAsync()).Count); // one completion each, the different person's included
        Assert.Empty(await ledger.Host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().InFlight.ToListAsync()));
    }

    [Fact]
    public async Task FollowersOfALeaderThatFailedGoBackInLineAndOthersAreNotHeldUp()
    {
        await using var ledger = new Ledger(foundFor: TimeSpan.Zero);
        var person = Person();
        var other = Person();
        ledger.Lance.Answer = lead => lead.Request.Lead!.LastName == person.LastName
            ? new LeadResult(Outcome.Failed, Detail: "Lance task failed")
            : new LeadResult(Outcome.Found, Emails: ["other@acme.com"], CreditsCharged: 1);
        var identical = Enumerable.Range(0, 3).Select(_ => Request(person, EnrichmentField.Email)).ToList();
        var otherOnes = Enumerable.Range(0, 2).Select(_ => Request(other, EnrichmentField.Email)).ToList();
        await ledger.Host.ReceiveBatchAsync([.. identical.Concat(otherOnes).Select(r => new IncomingRequest(r, null))]);
        await ledger.FlushAsync();
        Assert.Equal(Outcome.Failed, (await ledger.CompletionAsync(identical[0].RequestId)).Outcome);
        // Two followers of the failed leader go back in line; the other person's follower takes its leader's answer.
        Assert.Equal(3, await ledger.SweepFollowersAsync());
        Assert.Equal(Outcome.Found, (await ledger.CompletionAsync(otherOnes[1].RequestId)).Outcome);
        Assert.Equal(2, (await ledger.Host.RequestsAsync()).Count(r => r.State == RequestState.Accepted));

        // The failed leader's followers are requests of their own again: they go out in the next batch.
        ledger.Lance.Answer = _ => new LeadResult(Outcome.Found, Emails: ["jane@acme.com"], CreditsCharged: 1);
        await ledger.FlushAsync();
        Assert.Equal(identical.Skip(1).Select(r => r.RequestId).Order(), ledger.Lance.Calls[^1].Select(l => l.RequestId).Order());
        Assert.All(identical.Skip(1), r => Assert.Equal(Outcome.Found, ledger.CompletionAsync(r.RequestId).Result.Outcome));

        // A request identical to one that has completed is not held: it is a leader of its own (the cache is off here).
        var again = Request(other, EnrichmentField.Email);
        await ledger.Host.ReceiveAsync(again);
        Assert.Equal(RequestState.Accepted, (await ledger.Host.RequestsAsync()).Single(r => r.RequestId == again.RequestId).State);
    }
}
