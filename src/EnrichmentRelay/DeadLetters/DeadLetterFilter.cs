using System.Text.Json;
using EnrichmentRelay.Ledger;
using MassTransit;

namespace EnrichmentRelay.DeadLetters;

/// <summary>
/// The end of the error pipe: a message that failed every retry is stored in the ledger's dead-letter table
/// (where <c>/admin/dead-letters</c> shows and replays it) and acknowledged. Should the ledger be unreachable
/// too, it is passed on to MassTransit's own <c>{queue}_error</c> queue instead, so it is never lost.
/// </summary>
public sealed class DeadLetterFilter(IServiceScopeFactory scopes, TimeProvider time, ILogger logger) : IFilter<ExceptionReceiveContext>
{
    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        var letter = DeadLetterQueues.Capture(context, time.GetUtcNow());
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<RelayDbContext>();
            db.DeadLetters.Add(letter);
            await db.SaveChangesAsync(context.CancellationToken);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Could not store dead letter {MessageId} of {Queue}; moving it to the {Queue}_error queue instead",
                letter.MessageId, letter.Queue, letter.Queue);
            await next.Send(context);
            return;
        }
        logger.LogError("Message {MessageId} of {Queue} is a dead letter ({DeadLetterId}) after {Redeliveries} delayed redeliveries: {ExceptionType}: {Reason}",
            letter.MessageId, letter.Queue, letter.Id, letter.Redeliveries, letter.ExceptionType, letter.Reason);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("deadLetterStore");
}

/// <summary>How dead letters are captured from, and named after, the queues they came from.</summary>
public static class DeadLetterQueues
{
    /// <summary>Headers that describe the failure or the transport, not the message: not kept, not replayed.</summary>
    static bool IsMessageHeader(string name) =>
        !name.StartsWith("MT-Fault-", StringComparison.OrdinalIgnoreCase)
        && !name.StartsWith("RabbitMQ-", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("MT-Reason", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("x-death", StringComparison.OrdinalIgnoreCase)
        && !name.StartsWith("x-first-death-", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("x-last-death-queue", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("x-last-death-reason", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("x-last-death-exchange", StringComparison.OrdinalIgnoreCase)
        && !name.Equals(DelayedRedeliveryFilter.CountHeader, StringComparison.OrdinalIgnoreCase)
        && !name.Equals("MessageId", StringComparison.OrdinalIgnoreCase)
        && !name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase);

    /// <summary>The queue name of an input address such as <c>rabbitmq://host/vhost/enrichment-requested</c> or <c>loopback://localhost/x</c>.</summary>
    public static string NameOf(Uri inputAddress) => inputAddress.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Last();

    public static DeadLetterRecord Capture(ExceptionReceiveContext context, DateTimeOffset now)
    {
        var headers = context.TransportHeaders.GetAll()
            .Where(h => IsMessageHeader(h.Key) && h.Value is string or bool or int or long or Guid or DateTime or DateTimeOffset or decimal or double)
            .GroupBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => Convert.ToString(g.First().Value, System.Globalization.CultureInfo.InvariantCulture)!);
        var exception = context.Exception.GetBaseException();
        return new DeadLetterRecord
        {
            Id = NewId.NextGuid(),
            Queue = NameOf(context.InputAddress),
            MessageId = context.GetMessageId()?.ToString() ?? (context.TransportHeaders.TryGetHeader("MessageId", out var id) ? id?.ToString() : null),
            ContentType = context.ContentType?.ToString(),
            Body = context.GetBody(),
            HeadersJson = JsonSerializer.Serialize(headers),
            ExceptionType = exception.GetType().FullName ?? exception.GetType().Name,
            // The outer message says where it failed (e.g. which consumer); the base one says why.
            Reason = Shortened(exception == context.Exception ? exception.Message : $"{context.Exception.Message} {exception.Message}"),
            Redeliveries = DelayedRedeliveryFilter.Redeliveries(context),
            FaultedAt = now,
        };
    }

    const int MaxReasonLength = 4000;

    static string Shortened(string reason) => reason.Length <= MaxReasonLength ? reason : reason[..MaxReasonLength] + "…";
}
