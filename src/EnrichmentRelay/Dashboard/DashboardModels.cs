using EnrichmentRelay.Contracts;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Dashboard;

/// <summary>Everything the dashboard's front page shows, read in one go.</summary>
public sealed record DashboardOverview(
    DateTimeOffset At,
    IReadOnlyList<StateCount> Requests,
    IReadOnlyList<CompletionBucket> LastHour,
    IReadOnlyList<ProviderCredits> Credits,
    OpenRequest? OldestOpen,
    IReadOnlyList<OverdueJob> OverdueCallbacks,
    int OverdueCallbackCount,
    IReadOnlyList<AttentionJob> NeedingAttention,
    int NeedingAttentionCount,
    int DeadLettersPending,
    IReadOnlyList<DeadLetterSummary> DeadLetters,
    DateTimeOffset? OldestUnsentEventAt,
    bool Unlocked,
    string? Notice)
{
    /// <summary>Every provider that shows up in the request counts, in a stable order.</summary>
    public IReadOnlyList<string> Providers => Requests.Select(r => r.Provider).Distinct().Order().ToList();

    public int Count(string provider, string state) => Requests.Where(r => r.Provider == provider && r.State == state).Sum(r => r.Count);

    public int Total(string state) => Requests.Where(r => r.State == state).Sum(r => r.Count);
}

/// <param name="Provider">The provider's wire name, or "none" for requests refused before routing.</param>
public sealed record StateCount(string Provider, string State, int Count);

/// <summary>Completions of one slice of the last hour, by outcome.</summary>
public sealed record CompletionBucket(DateTimeOffset From, IReadOnlyDictionary<Outcome, int> Outcomes)
{
    public int Total => Outcomes.Values.Sum();
}

public sealed record ProviderCredits(string Provider, decimal LastHour, decimal AllTime);

public sealed record OpenRequest(Guid RequestId, string Provider, string State, DateTimeOffset AcceptedAt);

public sealed record OverdueJob(string Name, string? ProviderJobId, DateTimeOffset SubmittedAt, int OpenRequests);

/// <summary>A job parked for an operator: its submit's answer was lost and the provider did not show it.</summary>
public sealed record AttentionJob(Guid Id, string Name, string Provider, DateTimeOffset CreatedAt, int OpenRequests);

/// <summary>One request's whole story: what was asked, what was sent, what came back, what was published.</summary>
public sealed record RequestHistory(
    Guid RequestId,
    string State,
    string? Provider,
    string RequestJson,
    DateTimeOffset AcceptedAt,
    DateTimeOffset? SubmittedAt,
    DateTimeOffset? CompletedAt,
    Outcome? Outcome,
    string? Detail,
    IReadOnlyList<ProviderAttempt> Attempts,
    JobView? Job,
    IReadOnlyList<CallbackView> Callbacks,
    IReadOnlyList<AnswerView> Answers,
    string? ProviderState,
    EventView? Event);

public sealed record JobView(string Name, string Provider, string State, string? ProviderJobId, string? SubmitAnswer, int RequestCount,
    DateTimeOffset CreatedAt, DateTimeOffset? SubmittedAt, DateTimeOffset? CompletedAt, string? LastError);

/// <summary>One answer of a provider's API read for one of the request's jobs (a submit, a job read, a poll).</summary>
public sealed record AnswerView(long Id, string Provider, string Endpoint, int? Status, string? Error, DateTimeOffset ReceivedAt, string? Body);

public sealed record CallbackView(long Id, DateTimeOffset ReceivedAt, DateTimeOffset? ProcessedAt, bool IsMalformed, string Body);

public sealed record EventView(Guid EventId, DateTimeOffset CreatedAt, DateTimeOffset? SentAt, string Body);
