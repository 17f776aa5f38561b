using System.ComponentModel;
using System.Runtime.CompilerServices;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Ledger;

public enum RequestState
{
    /// <summary>Stored and routed; waiting for the provider's batch to flush.</summary>
    Accepted,
    /// <summary>Part of a provider job (submitted, or about to be: the job row says which).</summary>
    Submitted,
    /// <summary>
    /// Waiting for an identical request in flight (<see cref="EnrichmentRequestRecord.LeaderRequestId"/>): no call of its own;
    /// it takes that request's answer when it completes, or goes back in line (Accepted) when that one failed.
    /// </summary>
    Following,
    /// <summary>Terminal: the outcome is set and its EnrichmentCompleted is in the outbox.</summary>
    Completed,
}

/// <summary>
/// A row the ledger tracks by the thousand (a job's requests and their attempts): it tells the change tracker of each
/// change as it is made (EF Core's notification entities), so no save compares every tracked row with its values as
/// loaded to find what changed. Every mapped property's setter goes through
/// <see cref="Set{T}"/>: one that did not would have its changes silently left unsaved (NotifyingRecordTests).
/// It tells after a change only: the tracker keeps the values as loaded anyway (a row is reloaded by setting them).
/// </summary>
public abstract class NotifyingRecord : INotifyPropertyChanged
{
    public event PropertyChangedEventHandler? PropertyChanged;

    /// <summary>
    /// Sets the property's value and tells the tracker. The same value again (by the type's own equality: the same
    /// instant in another offset too; the relay keeps its times in UTC) is no change.
    /// </summary>
    protected void Set<T>(ref T slot, T value, [CallerMemberName] string property = "")
    {
        if (EqualityComparer<T>.Default.Equals(slot, value))
            return;
        slot = value;
        PropertyChanged?.Invoke(this, new PropertyChangedEventArgs(property));
    }
}

/// <summary>One row per request: the request itself is the inbox for <c>RequestId</c>.</summary>
public class EnrichmentRequestRecord : NotifyingRecord
{
    public Guid RequestId { get; set => Set(ref field, value); }
    public RequestState State { get; set => Set(ref field, value); }
    public ProviderName? Provider { get; set => Set(ref field, value); }
    /// <summary>Which of the provider's submit calls takes it (see <see cref="Providers.IEnrichmentProvider.Lane"/>).</summary>
    public string? Lane { get; set => Set(ref field, value); }
    /// <summary>The request as received (camelCase JSON), so nothing a caller sent is lost.</summary>
    public required string RequestJson { get; set => Set(ref field, value); }

    /// <summary><see cref="RequestJson"/> as read (<see cref="LedgerViews.ReadRequest(EnrichmentRequestRecord)"/>): a field, so not a column.</summary>
    internal (string Json, EnrichmentRequested Request)? ReadAs;
    /// <summary>When the producer's request was accepted: what its completion's <c>requestedAt</c> and every age "since asked" count from.</summary>
    public DateTimeOffset AcceptedAt { get; set => Set(ref field, value); }
    /// <summary>
    /// When it got in line for its current provider, if later than <see cref="AcceptedAt"/> (it moved on in a waterfall);
    /// null: since it was accepted. Its provider's batch window counts from here, so a request that moves on waits to fill
    /// that provider's batch like any new one.
    /// </summary>
    public DateTimeOffset? QueuedAt { get; set => Set(ref field, value); }
    public DateTimeOffset? SubmittedAt { get; set => Set(ref field, value); }
    public DateTimeOffset? CompletedAt { get; set => Set(ref field, value); }
    public Guid? ProviderJobId { get; set => Set(ref field, value); }
    public ProviderJobRecord? ProviderJob { get; set => Set(ref field, value); }
    public Outcome? Outcome { get; set => Set(ref field, value); }
    public string? EmailsJson { get; set => Set(ref field, value); }
    public string? PhonesJson { get; set => Set(ref field, value); }
    public string? Detail { get; set => Set(ref field, value); }
    public decimal? CreditsCharged { get; set => Set(ref field, value); }
    /// <summary>
    /// What a provider tracks per request between submit and completion (Lance: the state of each of
    /// its per-field tasks), as that provider's own small JSON document.
    /// </summary>
    public string? ProviderState { get; set => Set(ref field, value); }
    /// <summary>
    /// The W3C traceparent of the message or HTTP call that brought it, so the spans of its later steps (submit,
    /// completion, the published event) join the same trace. Null when nothing was tracing.
    /// </summary>
    public string? TraceParent { get; set => Set(ref field, value); }
    /// <summary>Optimistic concurrency: whoever completes a request first wins, the other re-reads.</summary>
    public int Version { get; set => Set(ref field, value); }

    /// <summary>
    /// Which publication of its EnrichmentCompleted the ledger holds: 1 from its completion, raised by each correction
    /// a re-normalization publishes (its event id is <c>EventIdFor(RequestId, Revision)</c>).
    /// </summary>
    public int Revision { get; set => Set(ref field, value); } = 1;

    /// <summary>
    /// The fields its current (or next) attempt asks for, as a JSON list; null: all the request's fields. A waterfall
    /// asks each next provider only for the fields the earlier ones did not find.
    /// </summary>
    public string? FieldsJson { get; set => Set(ref field, value); }

    /// <summary>Providers of its waterfall passed over on the way (they cannot identify the lead), as a JSON list.</summary>
    public string? SkippedJson { get; set => Set(ref field, value); }

    /// <summary>The identical request in flight whose provider call this one shares (it was <see cref="RequestState.Following"/> it).</summary>
    public Guid? LeaderRequestId { get; set => Set(ref field, value); }

    /// <summary>
    /// On to the next provider of its waterfall, asking only for <paramref name="fieldsJson"/>: back in line for that
    /// provider's next batch, its batch window starting <paramref name="now"/> (it is not overdue there for having waited
    /// at the last one). Its last attempt has ended; a late result of it changes nothing.
    /// </summary>
    public void MoveOn(ProviderName provider, string lane, string fieldsJson, string skippedJson, DateTimeOffset now)
    {
        Provider = provider;
        Lane = lane;
        FieldsJson = fieldsJson;
        SkippedJson = skippedJson;
        ProviderState = null; // the last provider's own state; the next one starts afresh
        QueuedAt = now;
        ReturnToWaiting();
    }

    /// <summary>When it got in line for its current provider: what that provider's batch window counts from.</summary>
    public DateTimeOffset InLineSince => QueuedAt ?? AcceptedAt;

    /// <summary>Back in line for the next batch: its job provably never reached the provider.</summary>
    public void ReturnToWaiting()
    {
        State = RequestState.Accepted;
        ProviderJobId = null;
        ProviderJob = null;
        SubmittedAt = null;
        Version++;
    }
}

public enum ProviderJobState
{
    /// <summary>Intent recorded before the POST: if we crash now the outcome is unknown.</summary>
    Submitting,
    /// <summary>The provider accepted the job and gave us its id.</summary>
    Submitted,
    /// <summary>The POST may or may not have reached the provider; reconcile before anything else.</summary>
    SubmitUnknown,
    /// <summary>The provider refused the whole job; its requests are completed.</summary>
    Refused,
    /// <summary>Every request of the job is terminal.</summary>
    Completed,
    /// <summary>
    /// The submit's fate is unknown and the provider did not show the job: its requests wait for an operator to
    /// resend them or complete them failed (sending again on absence of evidence could charge twice).
    /// </summary>
    NeedsAttention,
}

/// <summary>One call to a provider that created (or tried to create) a job/batch.</summary>
public class ProviderJobRecord
{
    public Guid Id { get; set; }
    public ProviderName Provider { get; set; }
    public required string Lane { get; set; }
    public ProviderJobState State { get; set; }
    /// <summary>What the provider said of the submit (e.g. Woodpecker's PARTIALLY_ENQUEUED).</summary>
    public string? SubmitAnswer { get; set; }
    /// <summary>For polled providers: when this job is next due for a status check.</summary>
    public DateTimeOffset? NextPollAt { get; set; }
    /// <summary>The provider's own id (Precept <c>enrichment_id</c>); null until it answers.</summary>
    public string? ExternalId { get; set; }
    /// <summary>SHA-256 of the per-job webhook token; the token itself is never stored or logged.</summary>
    public string? CallbackTokenHash { get; set; }
    public int RequestCount { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>
    /// When the submit POST left, past every queue in front of it (concurrency limits, Woodpecker's one call at a
    /// time); null while it waits. A job is only suspected of being cut off once its POST could have ended.
    /// </summary>
    public DateTimeOffset? SubmitStartedAt { get; set; }
    public DateTimeOffset? SubmittedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string? LastError { get; set; }
    /// <summary>Optimistic concurrency, raised on every save that changes the row: two writers never both act on one job.</summary>
    public int Version { get; set; }
    /// <summary>Reads of this job that failed in a row (a provider error, an unreadable answer); reset by one that works.</summary>
    public int ReadFailures { get; set; }
    /// <summary>What the provider says the whole job cost, for providers that charge per job (Precept's <c>cost.credits</c>).</summary>
    public decimal? CreditsCharged { get; set; }
    /// <summary>The worst case of the job's submit, reserved from its provider's budget before the POST; null for jobs older than budgets.</summary>
    public decimal? CreditsReserved { get; set; }
    /// <summary>The UTC day whose budget the reservation was taken from (and is settled against).</summary>
    public DateOnly? BudgetDay { get; set; }
    /// <summary>True from the reservation until the job's end replaces it by what the job cost (its settlement).</summary>
    public bool ReservationOpen { get; set; }
    /// <summary>
    /// What its settlement (and any later correction) counted as charged in its budget day; null until settled. A per-job
    /// cost reported after the settlement (<see cref="CreditsCharged"/> differs) is counted as the difference, once.
    /// </summary>
    public decimal? CreditsSettled { get; set; }

    /// <summary>When the provider may have first seen the job: its POST's start, or, before that is known, the intent.</summary>
    public DateTimeOffset SentAt => SubmitStartedAt ?? CreatedAt;

    /// <summary>The unique job name we give the provider, so an unknown submit can be found again.</summary>
    public string Name => NameOf(Id);

    public static string NameOf(Guid jobId) => $"relay-{jobId:N}";
}

/// <summary>
/// One try at one provider for one request: the job it went out in, and how it ended. A request's outcome is its
/// attempt's; a result that arrives for an attempt already ended (a late, repeated or superseded one) changes nothing.
/// </summary>
public class RequestAttemptRecord : NotifyingRecord
{
    public long Id { get; set => Set(ref field, value); }
    public Guid RequestId { get; set => Set(ref field, value); }
    /// <summary>1 for the request's first attempt, 2 for the next (a resend), …</summary>
    public int Number { get; set => Set(ref field, value); }
    public ProviderName Provider { get; set => Set(ref field, value); }
    public required string Lane { get; set => Set(ref field, value); }
    public Guid JobId { get; set => Set(ref field, value); }
    /// <summary>The provider's own id of the job, as known when the attempt ended.</summary>
    public string? ProviderJobId { get; set => Set(ref field, value); }
    public DateTimeOffset StartedAt { get; set => Set(ref field, value); }
    public DateTimeOffset? CompletedAt { get; set => Set(ref field, value); }
    public Outcome? Outcome { get; set => Set(ref field, value); }
    public decimal? CreditsCharged { get; set => Set(ref field, value); }
    public string? Detail { get; set => Set(ref field, value); }
    /// <summary>The fields this attempt asked for (JSON list), recorded when it ends.</summary>
    public string? FieldsJson { get; set => Set(ref field, value); }
    /// <summary>The emails this attempt found (JSON list), recorded when it ends.</summary>
    public string? EmailsJson { get; set => Set(ref field, value); }
    /// <summary>The phones this attempt found (JSON list), recorded when it ends.</summary>
    public string? PhonesJson { get; set => Set(ref field, value); }
    /// <summary>
    /// True for an answer from the identity cache, or from an identical request in flight at the same time: no call was
    /// made and nothing charged; <see cref="Provider"/> is the provider that originally found it (no job: <see cref="JobId"/> is empty).
    /// </summary>
    public bool FromCache { get; set => Set(ref field, value); }

    public bool IsOpen => CompletedAt is null;
}

/// <summary>
/// A request in flight that identical ones wait for instead of calling a provider again: one row per identity and
/// fields (its <see cref="Key"/>), unique across instances, so of two that arrive at once only one is inserted.
/// </summary>
public class InFlightRecord
{
    public required string Key { get; set; }
    public Guid LeaderRequestId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// What a provider said of one field of one person, remembered so the relay does not pay for it again: per normalized
/// identity key (a lead has several: email, LinkedIn profile, name at a company domain, provider ids) and field, the
/// values found or that none was found, until <see cref="ExpiresAt"/>. Rows are only added, in the transaction that
/// completes the request they come from; the newest unexpired row of a key and field is the answer.
/// </summary>
public class IdentityCacheRecord
{
    public long Id { get; set; }
    /// <summary>The normalized identity key: its kind and the SHA-256 of its normalized text (<c>email:…</c>, <c>linkedin:…</c>, …).</summary>
    public required string Key { get; set; }
    public EnrichmentField Field { get; set; }
    /// <summary>False: the provider looked and found nothing (cached for a shorter time).</summary>
    public bool Found { get; set; }
    /// <summary>The values found (JSON list); empty when not found.</summary>
    public required string ValuesJson { get; set; }
    /// <summary>The provider that found them (or looked and found nothing).</summary>
    public ProviderName Provider { get; set; }
    /// <summary>The request whose completion stored it.</summary>
    public Guid RequestId { get; set; }
    /// <summary>Every identity key stored with it (the lead's, and the emails found), so forgetting a person by one finds all.</summary>
    public required string KeysJson { get; set; }
    public DateTimeOffset FoundAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>
/// One answer of a provider's API, kept as received (status, body, time) whatever call it answered: a submit, a job
/// read, a poll, a person read. Linked to the jobs it was read for, so a request's history shows what the provider
/// said of it, and what the relay made of an answer can be worked out again from it.
/// </summary>
public class ProviderAnswerRecord
{
    public long Id { get; set; }
    public ProviderName Provider { get; set; }
    /// <summary>The method and route template (<c>GET v1/jobs/{id}</c>): never the raw path, which may carry ids or tokens.</summary>
    public required string Endpoint { get; set; }
    /// <summary>The HTTP status; null when no answer came (a timeout, a cut connection).</summary>
    public int? Status { get; set; }
    public string? Body { get; set; }
    /// <summary>Why there is no answer, when there is none.</summary>
    public string? Error { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
}

/// <summary>Which job an answer was read for (a poll's shared answer is linked to every job it served).</summary>
public class ProviderAnswerLink
{
    public long AnswerId { get; set; }
    public ProviderAnswerRecord? Answer { get; set; }
    public Guid JobId { get; set; }
}

public enum SelectionState
{
    /// <summary>Stored; the bulk call to Lance may or may not have gone out (it is safe to send again).</summary>
    Accepted,
    /// <summary>Lance answered: one request per selected person exists, attached to <see cref="SelectionRecord.ProviderJobId"/>.</summary>
    Submitted,
    /// <summary>Terminal: its SelectionEnrichmentCompleted is in the outbox.</summary>
    Completed,
}

/// <summary>A Lance bulk-mode selection: one row per SelectionId (its inbox), its requests share one job.</summary>
public class SelectionRecord
{
    public Guid SelectionId { get; set; }
    public SelectionState State { get; set; }
    public required string RequestJson { get; set; }
    public Guid? ProviderJobId { get; set; }
    public int Selected { get; set; }
    public Outcome? Refused { get; set; }
    public string? Detail { get; set; }
    public DateTimeOffset AcceptedAt { get; set; }
    /// <summary>When a delivery of the selection took it to make the paid call; another waits until this is stale.</summary>
    public DateTimeOffset? ClaimedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public int Version { get; set; }
}

/// <summary>A callback body exactly as received, kept for audit and re-normalization.</summary>
public class ProviderCallbackRecord
{
    public long Id { get; set; }
    public Guid ProviderJobId { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
    public required string Body { get; set; }
    public bool IsMalformed { get; set; }
    public DateTimeOffset? ProcessedAt { get; set; }
    /// <summary>The webhook call's W3C traceparent: applying the callback continues that trace.</summary>
    public string? TraceParent { get; set; }
}

/// <summary>A message to publish, written in the same transaction as the state change that causes it.</summary>
public class OutboxMessage
{
    public long Id { get; set; }
    /// <summary>The MassTransit MessageId; for completions, the deterministic EventId.</summary>
    public Guid MessageId { get; set; }
    public required string MessageType { get; set; }
    public required string Body { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }
    /// <summary>The trace the message is published in (a completion: its request's), so subscribers continue it.</summary>
    public string? TraceParent { get; set; }
    /// <summary>
    /// The relay instance that claimed it to publish (kept once sent: who published it). Until <see cref="LeasedUntil"/>
    /// no other instance publishes it; after that another takes it over, as its holder may have died. PostgreSQL only:
    /// SQLite runs one instance, and the outbox writes no leases there.
    /// </summary>
    public string? LeasedBy { get; set; }
    public DateTimeOffset? LeasedUntil { get; set; }
}

/// <summary>
/// Work claimed once across instances by a unique key: today the scheduled polls' ticks (<c>poll:{schedule}:{tick}</c>).
/// Provider results need no key of their own: the request they complete is terminal from then on.
/// </summary>
public class InboxEntry
{
    public required string Key { get; set; }
    public DateTimeOffset ProcessedAt { get; set; }
}

/// <summary>
/// A message its consumer could not handle after every retry and delayed redelivery: kept whole (body,
/// content type, headers) with the reason, so an operator can read it and send it back to its queue.
/// </summary>
public class DeadLetterRecord
{
    public Guid Id { get; set; }
    /// <summary>The queue it was consumed from, and goes back to on replay.</summary>
    public required string Queue { get; set; }
    public string? MessageId { get; set; }
    public string? ContentType { get; set; }
    /// <summary>Exactly the bytes received: they may not even be valid UTF-8.</summary>
    public required byte[] Body { get; set; }
    /// <summary>The message's own headers (camelCase JSON object of strings), without the fault details added on failure.</summary>
    public required string HeadersJson { get; set; }
    public required string ExceptionType { get; set; }
    public required string Reason { get; set; }
    /// <summary>How many delayed redeliveries it had before it was given up on.</summary>
    public int Redeliveries { get; set; }
    public DateTimeOffset FaultedAt { get; set; }
    public DateTimeOffset? ReplayedAt { get; set; }
    public int ReplayCount { get; set; }
}

/// <summary>
/// One provider's spend on one UTC day: credits reserved for submits whose cost is not known yet, and credits charged
/// by settled ones. A submit reserves only while reserved + charged stays within the day's cap (a conditional update).
/// </summary>
public class BudgetDayRecord
{
    public ProviderName Provider { get; set; }
    public DateOnly Day { get; set; }
    public decimal Reserved { get; set; }
    public decimal Charged { get; set; }
}

/// <summary>An operator's run-time budget for a provider (the admin route); without one, the settings apply.</summary>
public class BudgetLimitRecord
{
    public ProviderName Provider { get; set; }
    public decimal? DailyCap { get; set; }
    public decimal? PerRequestCeiling { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
