using System.Net;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EnrichmentRelay.Tests.Jobs;

/// <summary>The job rules, written once in the engine, tested once with a reader whose readings the test scripts.</summary>
public sealed class JobPollsTests : IAsyncLifetime
{
    readonly LedgerTestHost host = new();
    readonly ScriptedReader reader = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task AReadingCompletesLeadsClosesTheirAttemptsKeepsProviderStateAndEndsTheJobWhenNoneIsLeft()
    {
        var (job, requests) = await SubmitAsync(3);
        reader.Answer = jobs => [new JobReading(job)
        {
            Completed = Found(requests[0], requests[1]),
            ProviderStates = new Dictionary<Guid, string> { [requests[2]] = "{\"task\":\"pending\"}" },
        }];

        await PollAsync();

        var records = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        Assert.Equal(Outcome.Found, records[requests[0]].Outcome);
        Assert.Equal(RequestState.Submitted, records[requests[2]].State);
        Assert.Equal("{\"task\":\"pending\"}", records[requests[2]].ProviderState);
        var attempts = await AttemptsAsync();
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, a => Assert.Equal((1, job), (a.Number, a.JobId)));
        Assert.Equal(2, attempts.Count(a => a.Outcome == Outcome.Found && a.CompletedAt is not null));
        Assert.Equal(ProviderJobState.Submitted, (await JobAsync(job)).State);
        // The provider state went back to the reader on its next read; a repeat of an ended lead's result changes nothing.
        host.Time.Advance(reader.Policy.Interval);
        reader.Answer = jobs =>
        {
            Assert.Equal("{\"task\":\"pending\"}", jobs.Single().Leads.Single(l => l.RequestId == requests[2]).ProviderState);
            return [new JobReading(job) { Completed = Found(requests[0], requests[2]) }];
        };
        await PollAsync();

        Assert.Equal(ProviderJobState.Completed, (await JobAsync(job)).State);
        Assert.Equal(3, (await host.OutboxAsync()).Count);
    }

    [Fact]
    public async Task AJobWhoseReadingFailsIsReadAgainAfterABackOffThenDeadLetteredAndTheOthersOfThePollComplete()
    {
        var (bad, _) = await SubmitAsync(1);
        var (good, goodRequests) = await SubmitAsync(1);
        reader.Answer = jobs => jobs.Select(j => j.Id == bad
            ? new JobReading(j.Id) { Error = "HttpRequestException: Woodpecker answered 400" }
            : new JobReading(j.Id) { Completed = Found(goodRequests[0]) }).ToList();

        await PollAsync();

        Assert.Equal(ProviderJobState.Completed, (await JobAsync(good)).State);
        var failing = await JobAsync(bad);
        Assert.Equal(1, failing.ReadFailures);
        Assert.Contains("answered 400", failing.LastError);
        Assert.True(failing.NextPollAt > host.Time.GetUtcNow());
        // Not due again before its back-off.
        reader.Reads = 0;
        await PollAsync();
        Assert.Equal(0, reader.Reads);

        for (var i = 1; i < new JobsOptions().MaxReadFailures; i++)
        {
            host.Time.Advance(TimeSpan.FromHours(1));
            await PollAsync();
        }
        failing = await JobAsync(bad);
        Assert.Equal(new JobsOptions().MaxReadFailures, failing.ReadFailures);
        var letter = Assert.Single(await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().DeadLetters.AsNoTracking().ToListAsync()));
        Assert.Equal(JobPolls.RetryQueue, letter.Queue);
        Assert.Contains(bad.ToString(), System.Text.Encoding.UTF8.GetString(letter.Body));
        host.Time.Advance(TimeSpan.FromDays(1));
        reader.Reads = 0;
        await PollAsync();
        Assert.Equal(0, reader.Reads); // left alone until the letter is replayed
    }

    [Theory]
    [InlineData(UnfoundSubmits.Park)]
    [InlineData(UnfoundSubmits.Resend)]
    public async Task ALostSubmitTheProviderDoesNotShowWaitsReconcileAfterThenFollowsThePolicy(UnfoundSubmits policy)
    {
        reader.Unfound = policy;
        host.Provider.Answer = _ => new SubmitResult(SubmitStatus.Unknown, Detail: "timed out");
        var (job, requests) = await SubmitAsync(2);
        reader.Answer = jobs => jobs.Select(j => new JobReading(j.Id) { NotFound = true }).ToList();

        await PollAsync();
        Assert.Equal(ProviderJobState.SubmitUnknown, (await JobAsync(job)).State); // still within ReconcileAfter
        host.Time.Advance(reader.Policy.ReconcileAfter);
        await PollAsync();

        var after = await JobAsync(job);
        var records = await host.RequestsAsync();
        var attempts = await AttemptsAsync();
        if (policy == UnfoundSubmits.Park)
        {
            Assert.Equal(ProviderJobState.NeedsAttention, after.State);
            Assert.All(records, r => Assert.Equal(RequestState.Submitted, r.State));
            Assert.All(attempts, a => Assert.True(a.IsOpen));
        }
        else
        {
            Assert.Equal(ProviderJobState.Refused, after.State);
            Assert.All(records, r => Assert.Equal(RequestState.Accepted, r.State));
            Assert.All(attempts, a => Assert.Equal(Outcome.Failed, a.Outcome));
        }
        Assert.Single(host.Provider.Calls); // never sent again by the engine itself: the next batch sends what went back in line
    }

    [Fact]
    public async Task PastTheDeadlineTheReaderHasTheLastWordAndWhatItLeavesOpenTimesOut()
    {
        var (job, requests) = await SubmitAsync(2);
        host.Time.Advance(reader.Policy.Deadline);
        reader.Answer = jobs =>
        {
            Assert.True(jobs.Single().PastDeadline);
            return [new JobReading(job) { Completed = new Dictionary<Guid, LeadResult> { [requests[0]] = new(Outcome.Failed, Detail: "found, unreadable") } }];
        };

        await PollAsync();

        var records = (await host.RequestsAsync()).ToDictionary(r => r.RequestId);
        Assert.Equal(Outcome.Failed, records[requests[0]].Outcome);
        Assert.Equal(Outcome.TimedOut, records[requests[1]].Outcome);
        Assert.Equal(ProviderJobState.Completed, (await JobAsync(job)).State);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnOrphanIsQueuedAgainWhenItsPostNeverLeftAndReconciledWhenItDid(bool postLeft)
    {
        var (job, requests) = await SubmitAsync(1);
        // As a kill -9 leaves it: the intent committed, the answer never recorded, the POST started or not.
        await host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderJobs.ExecuteUpdateAsync(set => set
            .SetProperty(j => j.State, ProviderJobState.Submitting).SetProperty(j => j.ExternalId, (string?)null)
            .SetProperty(j => j.SubmitStartedAt, postLeft ? host.Time.GetUtcNow() : null)));
        reader.Answer = jobs => jobs.Select(j => new JobReading(j.Id) { FoundAs = "found-it" }).ToList();

        await PollAsync();
        Assert.Equal(ProviderJobState.Submitting, (await JobAsync(job)).State); // its POST might still be running
        host.Time.Advance(SubmitCalls.OrphanWindow(reader.Policy.RequestTimeout));
        await PollAsync();

        var after = await JobAsync(job);
        if (postLeft)
        {
            Assert.Equal(ProviderJobState.Submitted, after.State);
            Assert.Equal("found-it", after.ExternalId);
            Assert.Single(await AttemptsAsync());
        }
        else
        {
            Assert.Equal(ProviderJobState.Refused, after.State);
            Assert.Equal(RequestState.Accepted, Assert.Single(await host.RequestsAsync()).State);
            Assert.Empty(await AttemptsAsync()); // nothing was sent: no attempt was made
        }
    }

    [Fact]
    public async Task EveryAnswerAReaderReceivesIsKeptAndLinkedToTheJobsItWasReadFor()
    {
        var (first, _) = await SubmitAsync(1);
        var (second, _) = await SubmitAsync(1);
        var client = new HttpClient(new ProviderAnswerRecorder(ProviderName.Woodpecker, ["v2/batches", "v2/batches/{id}"], host.Time)
        {
            InnerHandler = new CannedAnswers(),
        }) { BaseAddress = new Uri("http://vendor.invalid/") };
        reader.Read = async (jobs, ct) =>
        {
            await client.GetStringAsync("v2/batches", ct); // shared: read for every job
            using (ProviderAnswers.ForJob(first))
                await client.GetStringAsync($"v2/batches/{first}", ct);
            return jobs.Select(j => new JobReading(j.Id)).ToList();
        };

        await PollAsync();

        var (answers, links) = await host.InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<RelayDbContext>();
            return (await db.ProviderAnswers.AsNoTracking().ToListAsync(), await db.ProviderAnswerLinks.AsNoTracking().ToListAsync());
        });
        Assert.Equal(2, answers.Count);
        var shared = answers.Single(a => a.Endpoint == "GET v2/batches");
        var own = answers.Single(a => a.Endpoint == "GET v2/batches/{id}");
        Assert.Equal((200, "{\"ok\":true}"), (shared.Status, shared.Body));
        Assert.Equal(new[] { first, second }.Order(), links.Where(l => l.AnswerId == shared.Id).Select(l => l.JobId).Order());
        Assert.Equal([first], links.Where(l => l.AnswerId == own.Id).Select(l => l.JobId));
    }

    async Task<(Guid Job, List<Guid> Requests)> SubmitAsync(int count)
    {
        var requests = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            var request = LedgerTestHost.ValidRequest(lastName: $"Doe{Guid.NewGuid():N}");
            await host.ReceiveAsync(request);
            requests.Add(request.RequestId);
        }
        host.Time.Advance(host.Provider.FlushWindow);
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync("precept", CancellationToken.None);
        var job = (await host.RequestsAsync()).Single(r => r.RequestId == requests[0]).ProviderJobId!.Value;
        return (job, requests);
    }

    Task PollAsync() => host.Services.GetRequiredService<JobPolls>().PollAsync(reader, CancellationToken.None);

    Task<ProviderJobRecord> JobAsync(Guid id) =>
        host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().ProviderJobs.AsNoTracking().SingleAsync(j => j.Id == id));

    Task<List<RequestAttemptRecord>> AttemptsAsync() =>
        host.InScopeAsync(sp => sp.GetRequiredService<RelayDbContext>().Attempts.AsNoTracking().ToListAsync());

    static Dictionary<Guid, LeadResult> Found(params Guid[] requests) =>
        requests.ToDictionary(r => r, _ => new LeadResult(Outcome.Found, ["jane@acme.com"]));

    /// <summary>A reader whose readings the test decides; it reads the jobs the engine found due, as any reader does.</summary>
    sealed class ScriptedReader : IJobReader
    {
        public Func<IReadOnlyList<OpenJob>, IReadOnlyList<JobReading>> Answer { get; set; } = jobs => jobs.Select(j => new JobReading(j.Id)).ToList();
        public Func<IReadOnlyList<OpenJob>, CancellationToken, Task<IReadOnlyList<JobReading>>>? Read { get; set; }
        public UnfoundSubmits Unfound { get; set; } = UnfoundSubmits.Park;
        public int Reads { get; set; }

        public ProviderName Provider => ProviderName.Precept;

        public PollPolicy Policy => new("precept", TimeSpan.FromSeconds(30), TimeSpan.Zero, TimeSpan.FromHours(24), TimeSpan.FromSeconds(30),
            TimeSpan.FromMinutes(5), Unfound, _ => TimeSpan.FromSeconds(30));

        public Task<IReadOnlyList<JobReading>> ReadAsync(IReadOnlyList<OpenJob> jobs, CancellationToken ct)
        {
            Reads += jobs.Count;
            return Read?.Invoke(jobs, ct) ?? Task.FromResult(Answer(jobs));
        }
    }

    sealed class CannedAnswers : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{\"ok\":true}") });
    }
}
