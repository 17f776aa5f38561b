using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Ledger;

/// <summary>How ledger rows look from outside: the event on the bus and the status over HTTP.</summary>
public static class LedgerViews
{
    /// <summary>
    /// The stored request, read once per loaded row: a completion reads it at several steps (the attempt's fields, the
    /// waterfall, the event, the cache). Callers derive with <c>with</c>, never change it.
    /// </summary>
    public static EnrichmentRequested ReadRequest(EnrichmentRequestRecord record)
    {
        if (record.ReadAs is { } read && ReferenceEquals(read.Json, record.RequestJson))
            return read.Request;
        var request = ReadRequest(record.RequestJson);
        record.ReadAs = (record.RequestJson, request);
        return request;
    }

    public static EnrichmentRequested ReadRequest(string requestJson) =>
        JsonSerializer.Deserialize<EnrichmentRequested>(requestJson, RelayJson.Options)
        ?? throw new InvalidOperationException("A request has no stored body.");

    /// <summary>The request as its current (or next) attempt puts it to the provider: asking only for the fields that attempt asks.</summary>
    public static EnrichmentRequested AskedOf(EnrichmentRequestRecord record)
    {
        var request = ReadRequest(record);
        return record.FieldsJson is null ? request : request with { Fields = ReadFields(record.FieldsJson) };
    }

    /// <summary>The fields the current (or next) attempt of the request asks for.</summary>
    public static IReadOnlyList<EnrichmentField> FieldsAsked(EnrichmentRequestRecord record) =>
        record.FieldsJson is null ? ReadRequest(record).Fields ?? [] : ReadFields(record.FieldsJson);

    public static IReadOnlyList<EnrichmentField> ReadFields(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<List<EnrichmentField>>(json, RelayJson.Options) ?? [];

    public static string WriteFields(IEnumerable<EnrichmentField> fields) => JsonSerializer.Serialize(fields.ToList(), RelayJson.Options);

    public static IReadOnlyList<SkippedProvider> ReadSkipped(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<List<SkippedProvider>>(json, RelayJson.Options) ?? [];

    public static string WriteSkipped(IEnumerable<SkippedProvider> skipped) => JsonSerializer.Serialize(skipped.ToList(), RelayJson.Options);

    /// <param name="attempts">The request's attempts, oldest first (none for a request refused at intake).</param>
    public static EnrichmentCompleted ToCompletedEvent(EnrichmentRequestRecord record, ProviderJobRecord? job, IEnumerable<RequestAttemptRecord> attempts)
    {
        var request = ReadRequest(record);
        return new EnrichmentCompleted
        {
            EventId = EnrichmentCompleted.EventIdFor(record.RequestId, record.Revision),
            Revision = record.Revision,
            Supersedes = record.Revision > 1 ? EnrichmentCompleted.EventIdFor(record.RequestId, record.Revision - 1) : null,
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
            Contacts = Contacts(record, attempts),
            Skipped = ReadSkipped(record.SkippedJson),
        };
    }

    /// <summary>
    /// The request's contacts, each with the provider whose attempt found it first; contacts no attempt recorded (a
    /// request ended before attempts kept their contacts) are the request's provider's.
    /// </summary>
    public static IReadOnlyList<FoundContact> Contacts(EnrichmentRequestRecord record, IEnumerable<RequestAttemptRecord> attempts)
    {
        var contacts = new List<FoundContact>();
        void Add(EnrichmentField field, string value, ProviderName provider)
        {
            if (!contacts.Any(c => c.Field == field && string.Equals(c.Value, value, StringComparison.OrdinalIgnoreCase)))
                contacts.Add(new FoundContact { Field = field, Value = value, Provider = provider });
        }
        foreach (var attempt in attempts.OrderBy(a => a.Number))
        {
            foreach (var email in ReadList(attempt.EmailsJson))
                Add(EnrichmentField.Email, email, attempt.Provider);
            foreach (var phone in ReadList(attempt.PhonesJson))
                Add(EnrichmentField.Phone, phone, attempt.Provider);
        }
        if (record.Provider is { } provider)
        {
            foreach (var email in ReadList(record.EmailsJson))
                Add(EnrichmentField.Email, email, provider);
            foreach (var phone in ReadList(record.PhonesJson))
                Add(EnrichmentField.Phone, phone, provider);
        }
        return contacts;
    }

    /// <summary>How each field an ended attempt asked for ended: found when it found one, not found when it found others, else the attempt's outcome.</summary>
    public static IReadOnlyList<FieldOutcome> FieldOutcomes(RequestAttemptRecord attempt)
    {
        if (attempt.Outcome is not { } outcome)
            return [];
        return ReadFields(attempt.FieldsJson).Select(field => new FieldOutcome
        {
            Field = field,
            Outcome = ReadList(field == EnrichmentField.Email ? attempt.EmailsJson : attempt.PhonesJson).Count > 0 ? Outcome.Found
                : outcome == Outcome.Found ? Outcome.NotFound
                : outcome,
        }).ToList();
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
            Fields = FieldOutcomes(a),
            CreditsCharged = a.CreditsCharged,
            FromCache = a.FromCache,
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

    /// <summary>
    /// The "queue" of a dead letter that is an outbox row the relay could not publish (unknown type, too large, unreadable).
    /// Replaying it puts it back in the outbox, where the dispatcher tries it again.
    /// </summary>
    public const string DeadLetterQueue = "outbox";

    /// <summary>The dead letter's headers that say what the row was: its message type, and the trace it is published in.</summary>
    public const string MessageTypeHeader = "MessageType";
    public const string TraceParentHeader = "traceparent";

    /// <summary>An outbox row as a dead letter an operator can read and replay: nothing of it is lost.</summary>
    public static DeadLetterRecord ToDeadLetter(OutboxMessage row, Guid id, string exceptionType, string reason, DateTimeOffset at)
    {
        var headers = new Dictionary<string, string> { [MessageTypeHeader] = row.MessageType };
        if (row.TraceParent is not null)
            headers[TraceParentHeader] = row.TraceParent;
        return new DeadLetterRecord
        {
            Id = id,
            Queue = DeadLetterQueue,
            MessageId = row.MessageId.ToString(),
            ContentType = "application/json",
            Body = System.Text.Encoding.UTF8.GetBytes(row.Body),
            HeadersJson = JsonSerializer.Serialize(headers),
            ExceptionType = exceptionType,
            Reason = reason,
            FaultedAt = at,
        };
    }

    /// <summary>The outbox row a dead letter of <see cref="DeadLetterQueue"/> was, staged again (at the back of the queue).</summary>
    public static OutboxMessage FromDeadLetter(DeadLetterRecord letter, DateTimeOffset at)
    {
        var headers = JsonSerializer.Deserialize<Dictionary<string, string>>(letter.HeadersJson) ?? [];
        return new OutboxMessage
        {
            MessageId = Guid.Parse(letter.MessageId ?? throw new InvalidOperationException($"Dead letter {letter.Id} has no message id.")),
            MessageType = headers.GetValueOrDefault(MessageTypeHeader)
                          ?? throw new InvalidOperationException($"Dead letter {letter.Id} does not say which message type it is."),
            Body = System.Text.Encoding.UTF8.GetString(letter.Body),
            CreatedAt = at,
            TraceParent = headers.GetValueOrDefault(TraceParentHeader),
        };
    }

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
