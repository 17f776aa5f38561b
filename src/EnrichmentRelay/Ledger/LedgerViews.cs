using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Ledger;

/// <summary>How ledger rows look from outside: the event on the bus and the status over HTTP.</summary>
public static class LedgerViews
{
    public static EnrichmentRequested ReadRequest(EnrichmentRequestRecord record) => ReadRequest(record.RequestJson);

    public static EnrichmentRequested ReadRequest(string requestJson) =>
        JsonSerializer.Deserialize<EnrichmentRequested>(requestJson, RelayJson.Options)
        ?? throw new InvalidOperationException("A request has no stored body.");

    /// <param name="attempts">The request's attempts, oldest first (none for a request refused at intake).</param>
    public static EnrichmentCompleted ToCompletedEvent(EnrichmentRequestRecord record, ProviderJobRecord? job, IEnumerable<RequestAttemptRecord> attempts)
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
            Attempts = Attempts(attempts),
        };
    }

    public static IReadOnlyList<ProviderAttempt> Attempts(IEnumerable<RequestAttemptRecord> attempts) =>
        attempts.OrderBy(a => a.Number).Select(a => new ProviderAttempt
        {
            Provider = a.Provider,
            Outcome = a.Outcome,
            ProviderJobId = a.ProviderJobId,
            SubmittedAt = a.StartedAt,
            CompletedAt = a.CompletedAt,
            Detail = a.Detail,
        }).ToList();

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
