using System.ComponentModel.DataAnnotations;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Ledger;

public sealed class LedgerRetentionTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task DedupeKeysAreKeptForTheRetentionThenRemovedButTheAuditTrailStays()
    {
        await host.ReceiveAsync(LedgerTestHost.ValidRequest());
        var start = host.Time.GetUtcNow();
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.Inbox.Add(new InboxEntry { Key = "poll:woodpecker:42", ProcessedAt = start });
            db.Outbox.Add(new OutboxMessage { MessageId = Guid.NewGuid(), MessageType = "EnrichmentCompleted", Body = "{}", CreatedAt = start, SentAt = start });
            db.Outbox.Add(new OutboxMessage { MessageId = Guid.NewGuid(), MessageType = "EnrichmentCompleted", Body = "{}", CreatedAt = start });
            db.DeadLetters.Add(DeadLetter(replayedAt: start));
            db.DeadLetters.Add(DeadLetter(replayedAt: null));
            return await db.SaveChangesAsync();
        });
        var retention = WeekLongRetention();

        host.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await retention.DeleteExpiredAsync(CancellationToken.None));

        host.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(3, await retention.DeleteExpiredAsync(CancellationToken.None));

        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            Assert.Empty(await db.Inbox.ToListAsync());
            Assert.Null(Assert.Single(await db.Outbox.ToListAsync()).SentAt);
            Assert.Null(Assert.Single(await db.DeadLetters.ToListAsync()).ReplayedAt);
            Assert.Single(await db.Requests.ToListAsync());
            return 0;
        });
    }

    [Fact]
    public async Task ProviderAnswersGoAfterTheRetentionUnlessAJobTheyWereReadForIsStillOpen()
    {
        var start = host.Time.GetUtcNow();
        var open = Guid.NewGuid();
        var ended = Guid.NewGuid();
        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            db.ProviderJobs.Add(new ProviderJobRecord { Id = open, Provider = ProviderName.Woodpecker, Lane = "leads", State = ProviderJobState.Submitted, CreatedAt = start });
            db.ProviderJobs.Add(new ProviderJobRecord { Id = ended, Provider = ProviderName.Woodpecker, Lane = "leads", State = ProviderJobState.Completed, CreatedAt = start, CompletedAt = start });
            var forBoth = new ProviderAnswerRecord { Provider = ProviderName.Woodpecker, Endpoint = "GET rest/v2/batches", Status = 200, ReceivedAt = start };
            var forEnded = new ProviderAnswerRecord { Provider = ProviderName.Woodpecker, Endpoint = "POST rest/v2/leads", Status = 200, ReceivedAt = start };
            var unlinked = new ProviderAnswerRecord { Provider = ProviderName.Woodpecker, Endpoint = "GET rest/v2/batches", Status = 500, ReceivedAt = start };
            db.ProviderAnswers.AddRange(forBoth, forEnded, unlinked);
            await db.SaveChangesAsync();
            db.ProviderAnswerLinks.AddRange(new ProviderAnswerLink { AnswerId = forBoth.Id, JobId = open }, new ProviderAnswerLink { AnswerId = forBoth.Id, JobId = ended },
                new ProviderAnswerLink { AnswerId = forEnded.Id, JobId = ended });
            return await db.SaveChangesAsync();
        });
        var retention = WeekLongRetention();

        host.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await retention.DeleteExpiredAsync(CancellationToken.None));
        host.Time.Advance(TimeSpan.FromSeconds(2));
        // The answer read for the ended job alone (and its link) and the unlinked one go; the one an open job needs stays.
        Assert.Equal(3, await retention.DeleteExpiredAsync(CancellationToken.None));

        await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            var kept = Assert.Single(await db.ProviderAnswers.ToListAsync());
            Assert.Equal("GET rest/v2/batches", kept.Endpoint);
            Assert.Equal(2, await db.ProviderAnswerLinks.CountAsync(l => l.AnswerId == kept.Id));
            return 0;
        });
    }

    LedgerRetention WeekLongRetention() => new(host.Services.GetRequiredService<IServiceScopeFactory>(),
        Options.Create(new LedgerOptions { Retention = TimeSpan.FromDays(7) }), host.Time, NullLogger<LedgerRetention>.Instance);

    [Fact]
    public void ARetentionShorterThanAWeekIsRefused()
    {
        var results = new LedgerOptions { Retention = TimeSpan.FromDays(6) }.Validate(new ValidationContext(new object())).ToList();

        Assert.Contains(results, r => r.ErrorMessage!.Contains("Ledger:Retention must be at least 7 days"));
    }

    static DeadLetterRecord DeadLetter(DateTimeOffset? replayedAt) => new()
    {
        Id = Guid.NewGuid(), Queue = "enrichment-requested", Body = [0x7b], HeadersJson = "{}", ExceptionType = "X", Reason = "r",
        FaultedAt = replayedAt ?? DateTimeOffset.UnixEpoch, ReplayedAt = replayedAt,
    };
}
