using System.Net.Mime;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Ledger;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Access;
using EnrichmentRelay.Hosting;

namespace EnrichmentRelay.DeadLetters;

/// <summary>A dead letter as the list shows it.</summary>
public sealed record DeadLetterSummary(
    Guid Id,
    string Queue,
    string? MessageId,
    string? ContentType,
    int SizeBytes,
    string ExceptionType,
    string Reason,
    int Redeliveries,
    DateTimeOffset FaultedAt,
    DateTimeOffset? ReplayedAt,
    int ReplayCount,
    string Preview)
{
    const int PreviewLength = 200;

    public static DeadLetterSummary Of(DeadLetterRecord d) => new(d.Id, d.Queue, d.MessageId, d.ContentType, d.Body.Length, d.ExceptionType,
        d.Reason, d.Redeliveries, d.FaultedAt, d.ReplayedAt, d.ReplayCount, PreviewOf(d.Body));

    /// <summary>The start of the body as text (invalid UTF-8 shows as U+FFFD), enough to recognise it in a list.</summary>
    static string PreviewOf(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, PreviewLength * 4)));
        return text.Length > PreviewLength ? text[..PreviewLength] + "…" : text;
    }
}

/// <summary>One dead letter whole: the body as text when it is UTF-8 (else null), and always as base64.</summary>
public sealed record DeadLetterDetail(DeadLetterSummary Summary, string? Body, string BodyBase64, IReadOnlyDictionary<string, string> Headers);

public sealed record DeadLetterPage(int Total, IReadOnlyList<DeadLetterSummary> Items);

public sealed record ReplayedDeadLetters(int Replayed, IReadOnlyList<Guid> Ids);

/// <summary>The marker type a replay is sent as; the bytes on the wire are the dead letter's own.</summary>
public sealed record DeadLetterReplay;

/// <summary>
/// <c>/admin/dead-letters</c>: what failed, why, and a way to send it back. A replay puts the stored bytes and
/// headers back on the message's own queue, where its consumer takes it like any other message (intake is
/// idempotent by RequestId, so replaying something that did get through after all changes nothing). A letter of
/// the <c>outbox</c> queue is an event the relay could not publish; its replay stages it in the outbox again.
/// </summary>
public static class DeadLettersApi
{
    const int DefaultLimit = 100;
    const int MaxLimit = 1000;

    public static RouteGroupBuilder MapDeadLetters(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/dead-letters").WithTags("Admin");
        group.MapGet("/", ListAsync)
            .WithSummary("Lists dead letters, newest first")
            .WithDescription("Messages a consumer could not handle after its retries and delayed redeliveries. Filter by queue, by when they " +
                             "failed (from/to, ISO 8601) and pending=true for those not replayed yet. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "One selection that failed while Lance was down", PageExample);
        group.MapGet("/{id:guid}", GetAsync)
            .WithSummary("Reads one dead letter with its body and headers")
            .WithDescription("The body as text when it is UTF-8 (else null) and always as base64, and the message's own headers. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "A selection request", DetailExample);
        group.MapPost("/{id:guid}/replay", ReplayOneAsync)
            .WithSummary("Sends one dead letter back to its queue")
            .WithDescription("Replays it even if it was replayed before; the consumer's idempotency makes a repeat harmless. " +
                             "If it fails again it becomes a new dead letter. A letter of the queue 'outbox' (an event the relay could not " +
                             "publish) goes back into the outbox. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status202Accepted, "Sent back to selection-enrichment-requested", SummaryExample);
        group.MapPost("/replay", ReplayRangeAsync)
            .WithSummary("Sends every dead letter of a time range that was not replayed yet back to its queue")
            .WithDescription("from is required, to defaults to now; queue narrows it to one queue. Letters replayed before are left alone, " +
                             "so repeating the call sends nothing twice. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "Two letters of an outage replayed", """
                {"replayed":2,"ids":["0b7e0000-4a3c-0015-8c6f-08de2b1f9a41","0b7e0000-4a3c-0015-9e21-08de2b1f9a77"]}
                """);
        return group;
    }

    const string SummaryExample = """
        {"id":"0b7e0000-4a3c-0015-8c6f-08de2b1f9a41","queue":"selection-enrichment-requested","messageId":"0b7e0000-4a3c-0015-1d2e-08de2b1f9a00",
         "contentType":"application/vnd.masstransit+json","sizeBytes":1214,"exceptionType":"System.Net.Http.HttpRequestException",
         "reason":"Lance answered 500 to selection 5b0c4f9e-2d1a-4c3b-9e8f-7a6b5c4d3e2f: Internal error","redeliveries":3,
         "faultedAt":"2026-12-01T10:15:02+00:00","replayedAt":null,"replayCount":0,"preview":"{\"messageId\":\"0b7e0000-4a3c-0015-1d2e-08de2b1f9a00\",…"}
        """;

    const string PageExample = "{\"total\":1,\"items\":[" + SummaryExample + "]}";

    const string DetailExample = "{\"summary\":" + SummaryExample + """
        ,"body":"{\"message\":{\"selectionId\":\"5b0c4f9e-2d1a-4c3b-9e8f-7a6b5c4d3e2f\",\"targetCount\":100,\"field\":\"email\"}}",
         "bodyBase64":"eyJtZXNzYWdlIjp7fX0=","headers":{"MT-Host-MachineName":"producer-1"}}
        """;

    static async Task<Results<Ok<DeadLetterPage>, ValidationProblem>> ListAsync(RelayDbContext db, CancellationToken ct,
        string? queue = null, DateTimeOffset? from = null, DateTimeOffset? to = null, bool? pending = null, int? limit = null)
    {
        if (limit is < 1 or > MaxLimit)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"Must be 1 to {MaxLimit}."] });
        var query = Filter(db.DeadLetters.AsNoTracking(), queue, from, to, pending);
        var total = await query.CountAsync(ct);
        var items = await query.OrderByDescending(d => d.FaultedAt).Take(limit ?? DefaultLimit).ToListAsync(ct);
        return TypedResults.Ok(new DeadLetterPage(total, items.Select(DeadLetterSummary.Of).ToList()));
    }

    static async Task<Results<Ok<DeadLetterDetail>, NotFound>> GetAsync(Guid id, RelayDbContext db, CancellationToken ct)
    {
        if (await db.DeadLetters.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id, ct) is not { } letter)
            return TypedResults.NotFound();
        string? text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(letter.Body);
        }
        catch (DecoderFallbackException)
        {
            text = null;
        }
        return TypedResults.Ok(new DeadLetterDetail(DeadLetterSummary.Of(letter), text, Convert.ToBase64String(letter.Body),
            JsonSerializer.Deserialize<Dictionary<string, string>>(letter.HeadersJson) ?? []));
    }

    static async Task<Results<Accepted<DeadLetterSummary>, NotFound>> ReplayOneAsync(Guid id, RelayDbContext db, DeadLetterReplayer replayer,
        CancellationToken ct)
    {
        if (await db.DeadLetters.SingleOrDefaultAsync(d => d.Id == id, ct) is not { } letter)
            return TypedResults.NotFound();
        await replayer.ReplayAsync([letter], ct);
        return TypedResults.Accepted((string?)null, DeadLetterSummary.Of(letter));
    }

    static async Task<Results<Ok<ReplayedDeadLetters>, ValidationProblem>> ReplayRangeAsync(RelayDbContext db, DeadLetterReplayer replayer,
        TimeProvider time, CancellationToken ct, DateTimeOffset? from = null, DateTimeOffset? to = null, string? queue = null)
    {
        if (from is null)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["from"] = ["Required: the start of the range (ISO 8601)."] });
        to ??= time.GetUtcNow();
        if (to < from)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["to"] = ["Must not be before from."] });
        var letters = await Filter(db.DeadLetters, queue, from, to, pending: true).OrderBy(d => d.FaultedAt).Take(MaxLimit).ToListAsync(ct);
        await replayer.ReplayAsync(letters, ct);
        return TypedResults.Ok(new ReplayedDeadLetters(letters.Count, letters.Select(l => l.Id).ToList()));
    }

    static IQueryable<DeadLetterRecord> Filter(IQueryable<DeadLetterRecord> query, string? queue, DateTimeOffset? from, DateTimeOffset? to, bool? pending)
    {
        if (queue is not null)
            query = query.Where(d => d.Queue == queue);
        if (from is { } start)
            query = query.Where(d => d.FaultedAt >= start);
        if (to is { } end)
            query = query.Where(d => d.FaultedAt <= end);
        if (pending is { } waiting)
            query = waiting ? query.Where(d => d.ReplayedAt == null) : query.Where(d => d.ReplayedAt != null);
        return query;
    }
}

/// <summary>Sends dead letters back to their queues, byte for byte, and records that it did.</summary>
public sealed class DeadLetterReplayer(RelayDbContext db, ISendEndpointProvider endpoints, TimeProvider time, ILogger<DeadLetterReplayer> logger)
{
    public const string ReplayedFromHeader = "x-relay-replayed-from";

    /// <summary>
    /// Sends first, then marks: a crash in between replays a letter twice, which the consumer's idempotency
    /// absorbs; the other order could lose a replay that was marked done. A letter of the outbox (a message the relay
    /// could not publish) goes back into the outbox instead, in the same transaction as its mark.
    /// </summary>
    public async Task ReplayAsync(IReadOnlyList<DeadLetterRecord> letters, CancellationToken ct)
    {
        foreach (var letter in letters)
        {
            if (letter.Queue == OutboxRows.DeadLetterQueue)
            {
                db.Outbox.Add(OutboxRows.FromDeadLetter(letter, time.GetUtcNow()));
                letter.ReplayedAt = time.GetUtcNow();
                letter.ReplayCount++;
                await db.SaveChangesAsync(ct);
                logger.LogWarning("Replayed dead letter {DeadLetterId} (message {MessageId}) into the outbox", letter.Id, letter.MessageId);
                continue;
            }
            var endpoint = await endpoints.GetSendEndpoint(new Uri($"queue:{letter.Queue}"));
            var headers = JsonSerializer.Deserialize<Dictionary<string, string>>(letter.HeadersJson) ?? [];
            await endpoint.Send(new DeadLetterReplay(), context =>
            {
                context.Serializer = new CopyBodySerializer(new ContentType(letter.ContentType ?? "application/json"), new BytesMessageBody(letter.Body));
                if (Guid.TryParse(letter.MessageId, out var messageId))
                    context.MessageId = messageId;
                foreach (var (name, value) in headers)
                    context.Headers.Set(name, value);
                context.Headers.Set(ReplayedFromHeader, letter.Id.ToString());
            }, ct);
            letter.ReplayedAt = time.GetUtcNow();
            letter.ReplayCount++;
            await db.SaveChangesAsync(ct);
            logger.LogWarning("Replayed dead letter {DeadLetterId} (message {MessageId}) to {Queue}", letter.Id, letter.MessageId, letter.Queue);
        }
    }
}
