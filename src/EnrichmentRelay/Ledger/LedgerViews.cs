using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Ledger;

/// <summary>How ledger rows look from outside: the event on the bus and the status over HTTP.</summary>
public static class LedgerViews
{
    public static EnrichmentRequested ReadRequest(EnrichmentRequestRecord record) =>
        JsonSerializer.Deserialize<EnrichmentRequested>(record.RequestJson, RelayJson.Options)
        ?? throw new InvalidOperationException($"Request {record.RequestId} has no stored body.");

    public static EnrichmentCompleted ToCompletedEvent(EnrichmentRequestRecord record, ProviderJobRecord? job)
    {
        var request = ReadRequest(record);
        return new EnrichmentCompleted
        {
            EventId = EnrichmentCompleted.EventIdFor(record.RequestId),
            RequestId = record.RequestId,
            Provider = record.Provider,
            Outcome = record.Outcome ?? throw new InvalidOperationException($"Request {record.RequestId} is not completed."),
            Emails = ReadList(record.EmailsJson),
            Phones = ReadList(record.PhonesJson),
            ProviderJobId = job?.ExternalId,
            Detail = record.Detail,
            CreditsCharged = record.CreditsCharged,
            CorrelationData = request.CorrelationData ?? new Dictionary<string, string>(),
            RequestedAt = record.AcceptedAt,
            CompletedAt = record.CompletedAt ?? record.AcceptedAt,
            Attempts = Attempts(record, job),
        };
    }

    public static IReadOnlyList<ProviderAttempt> Attempts(EnrichmentRequestRecord record, ProviderJobRecord? job) =>
        job is null
            ? []
            : [new ProviderAttempt
            {
                Provider = job.Provider,
                Outcome = record.Outcome,
                ProviderJobId = job.ExternalId,
                SubmittedAt = job.SubmittedAt ?? job.CreatedAt,
                CompletedAt = record.CompletedAt,
                Detail = record.Detail,
            }];

    public static IReadOnlyList<string> ReadList(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<List<string>>(json) ?? [];
}

public static class OutboxRows
{
    /// <summary>The messages the outbox carries, by the name stored in its rows.</summary>
    public static readonly IReadOnlyDictionary<string, Type> Types = new Dictionary<string, Type>
    {
        [nameof(EnrichmentCompleted)] = typeof(EnrichmentCompleted),
        [nameof(SelectionEnrichmentCompleted)] = typeof(SelectionEnrichmentCompleted),
    };

    /// <param name="traceParent">The trace to publish it in; by default the current one.</param>
    public static OutboxMessage For<T>(T message, Guid messageId, DateTimeOffset at, string? traceParent = null) where T : class => new()
    {
        MessageId = messageId,
        MessageType = Types.Single(t => t.Value == typeof(T)).Key,
        Body = JsonSerializer.Serialize(message, RelayJson.Options),
        CreatedAt = at,
        TraceParent = traceParent ?? Telemetry.RelayTracing.CurrentTraceParent(),
    };
}
