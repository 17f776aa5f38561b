using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MassTransit;

namespace EnrichmentRelay.Outbox;

/// <summary>
/// Counts, per message the dispatcher is publishing, the attempts that ended without the broker's confirm. Each may
/// have reached the broker, so each may become a copy for subscribers. Counted at the transport and not from what
/// <c>Publish</c> returns: when the broker connection drops, MassTransit sends the message again by itself, and the
/// publish then succeeds though an earlier attempt may already have been taken. MassTransit calls publish observers
/// from its transport, once per attempt.
/// </summary>
public sealed class UnconfirmedAttempts : IPublishObserver
{
    readonly ConcurrentDictionary<Guid, StrongBox<int>> publishing = new();

    public void Track(Guid messageId) => publishing[messageId] = new StrongBox<int>();

    /// <summary>Stops counting for the message; returns its failed attempts.</summary>
    public int Untrack(Guid messageId) => publishing.TryRemove(messageId, out var failed) ? failed.Value : 0;

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class
    {
        if (context.MessageId is { } id && publishing.TryGetValue(id, out var failed))
            Interlocked.Increment(ref failed.Value);
        return Task.CompletedTask;
    }

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;
}
