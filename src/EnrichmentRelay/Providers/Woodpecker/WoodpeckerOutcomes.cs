using System.Text.Json;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// What the relay tracks per request between polls (the request's ProviderState): the batch that holds its lead
/// when that is not its job's own (Woodpecker did not queue it again because it was already pending), and when
/// Woodpecker was first seen to have found (and charged for) an email whose prospect record is still to be read.
/// </summary>
public sealed record WoodpeckerRequestState(string? Batch = null, DateTimeOffset? BatchCreated = null, DateTimeOffset? FoundAt = null)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The state a request's provider state holds (none: nothing tracked yet).</summary>
    public static WoodpeckerRequestState Read(string? providerState) =>
        providerState is null ? new() : JsonSerializer.Deserialize<WoodpeckerRequestState>(providerState, Json) ?? new();

    /// <summary>This state as the request's provider state, or null when <paramref name="stored"/> says the same already.</summary>
    public string? ChangedFrom(string? stored)
    {
        var text = JsonSerializer.Serialize(this, Json);
        return text == (stored ?? "{}") ? null : text;
    }
}

/// <summary>
/// Woodpecker's answers translated into outcomes, one rule each (the tables in docs/messages.md and docs/outcomes.md
/// say the same). Credits: Woodpecker charges 1.5 only for an email it found (a converted lead, an enriched prospect),
/// never otherwise.
/// </summary>
public static class WoodpeckerOutcomes
{
    public const decimal CreditsPerEmail = 1.5m;

    /// <summary>Where a lead's result came from, when not from its own submit's batch.</summary>
    /// <param name="ChargedElsewhere">The batch is one this relay submitted for another request, which records its charge.</param>
    public sealed record Followed(string Batch, string? SubmitAnswer, bool ChargedElsewhere);

    /// <summary>
    /// What a processed lead's <c>processing_result</c> means; null for a converted lead, whose prospect decides
    /// (<see cref="ConvertedFound"/>). The job reader and re-normalization both ask this.
    /// </summary>
    public static LeadResult? OfProcessedLead(string? processingResult, Followed? followed) => processingResult switch
    {
        WoodpeckerStatus.ConvertedToProspect => null,
        WoodpeckerStatus.NotConvertedToProspect => NotConverted(followed),
        _ => UnknownResult(processingResult, followed),
    };

    /// <summary>
    /// What a prospect enrichment's status means; null while it is not processed (looked at again) and for
    /// <c>PROCESSED_ENRICHED</c>, whose prospect record decides (<see cref="ProspectEnriched"/>).
    /// </summary>
    public static LeadResult? OfProspectStatus(string? status, Followed? followed) =>
        status == WoodpeckerStatus.ProcessedEnriched ? null
        : status == WoodpeckerStatus.ProcessedNotEnriched ? ProspectNotEnriched(followed)
        : status?.StartsWith(WoodpeckerStatus.Processed, StringComparison.Ordinal) == true ? ProspectUnknownStatus(status, followed)
        : null;

    public static LeadResult NotConverted(Followed? followed) => new(Outcome.NotFound, CreditsCharged: 0,
        Detail: "Woodpecker found no email for this lead (NOT_CONVERTED_TO_PROSPECT)." + Note(followed));

    public static LeadResult ConvertedFound(string email, Followed? followed) => new(Outcome.Found, [email],
        CreditsCharged: Charged(followed), Detail: followed is null ? null : Note(followed).Trim());

    public static LeadResult ConvertedUnmatched(TimeSpan lookedFor, Followed? followed) => new(Outcome.Failed, CreditsCharged: Charged(followed),
        Detail: "Woodpecker converted this lead to a prospect (CONVERTED_TO_PROSPECT: it found an email and charged 1.5 credits), but the " +
                $"prospect could not be matched (by LinkedIn URL, or name with company or website) within {Span(lookedFor)}; look for it in " +
                "Woodpecker's prospect list." + Note(followed));

    public static LeadResult UnknownResult(string? processingResult, Followed? followed) => new(Outcome.Failed,
        Detail: $"Woodpecker processed this lead with a result the relay does not know ('{processingResult}'); whether it found (and charged " +
                "for) an email is not known." + Note(followed));

    /// <summary>A lead its submit's batch does not hold, and no other batch does either, after a submit that says credits ran short.</summary>
    public static LeadResult LeftOutForCredits(string? submitAnswer) => new(Outcome.InsufficientCredits, CreditsCharged: 0,
        Detail: submitAnswer == WoodpeckerStatus.CreditsExhausted
            ? "Woodpecker ran out of credits before enqueueing this lead (CREDITS_EXHAUSTED, with a batch holding only some of the leads)."
            : "Woodpecker enqueued only some leads of this submit (PARTIALLY_ENQUEUED, usually because the credits available cover fewer " +
              "leads than requested; Woodpecker does not say which leads it left out), and this lead is in no batch.");

    /// <summary>A lead Woodpecker did not queue (already pending, it says), whose batch the relay never found.</summary>
    public static LeadResult PendingBatchNotFound(string? submitAnswer, string? ownBatch, TimeSpan lookBack, TimeSpan lookedFor) => new(Outcome.Failed,
        CreditsCharged: 0,
        Detail: (submitAnswer == WoodpeckerStatus.NotEnqueued
                    ? "Woodpecker did not queue this lead (NOT_ENQUEUED: it is already pending there)"
                    : $"Woodpecker's batch {ownBatch} does not hold this lead (its submit answered {submitAnswer ?? "without a status"}; " +
                      "Woodpecker leaves out leads that are not eligible, such as leads already pending)") +
                $", but no batch created in the {Span(lookBack)} before the submit holds it, after looking for {Span(lookedFor)}. " +
                "Nothing was charged for it by this request.");

    public static LeadResult ProspectEnriched(string email, Followed? followed) => new(Outcome.Found, [email], CreditsCharged: Charged(followed),
        Detail: "Woodpecker enriched this existing prospect (PROCESSED_ENRICHED); the email is the one its prospect record holds (prospect " +
                "enrichment adds data to a prospect known by its email, it does not look for another address)." + Note(followed));

    /// <summary>An enriched prospect's result from prospect records read by its email: the record's own email; null when none holds it.</summary>
    public static LeadResult? EnrichedRecord(string email, IEnumerable<WoodpeckerProspect> records, Followed? followed) =>
        records.FirstOrDefault(p => string.Equals(p.Email?.Trim(), email, StringComparison.OrdinalIgnoreCase))?.Email is { Length: > 0 } held
            ? ProspectEnriched(held.Trim(), followed)
            : null;

    public static LeadResult ProspectNotEnriched(Followed? followed) => new(Outcome.NotFound, CreditsCharged: 0,
        Detail: "Woodpecker found nothing to add to this prospect (PROCESSED_NOT_ENRICHED; it answers so too for an email that is not one of " +
                "the account's prospects)." + Note(followed));

    public static LeadResult ProspectUnreadable(TimeSpan lookedFor, Followed? followed) => new(Outcome.Failed, CreditsCharged: Charged(followed),
        Detail: "Woodpecker enriched this prospect (PROCESSED_ENRICHED, 1.5 credits), but its prospect record could not be read within " +
                $"{Span(lookedFor)}, so the relay reports no email." + Note(followed));

    public static LeadResult ProspectUnknownStatus(string? status, Followed? followed) => new(Outcome.Failed,
        Detail: $"Woodpecker ended this prospect's enrichment with a status the relay does not know ('{status}'); whether it found (and " +
                "charged for) anything is not known." + Note(followed));

    public static LeadResult Deadline(TimeSpan deadline) => new(Outcome.TimedOut,
        Detail: $"Woodpecker had not finished this lead {Span(deadline)} after it was submitted.");

    /// <summary>At the deadline, a lead Woodpecker found an email for but whose prospect was not read is failed, not timed out: it was charged.</summary>
    public static LeadResult AtDeadline(WoodpeckerRequestState state, string lane, TimeSpan deadline, Followed? followed) =>
        state.FoundAt is null ? Deadline(deadline)
        : lane == WoodpeckerLeads.ProspectsLane ? ProspectUnreadable(deadline, followed)
        : ConvertedUnmatched(deadline, followed);

    static decimal Charged(Followed? followed) => followed is { ChargedElsewhere: true } ? 0 : CreditsPerEmail;

    static string Note(Followed? followed) => followed switch
    {
        null => "",
        { ChargedElsewhere: true } => $" Woodpecker did not queue it again (its submit answered {followed.SubmitAnswer}): the result is from batch " +
                                      $"{followed.Batch}, which already held it; its credits are counted on the request that batch was submitted for.",
        _ => $" Woodpecker did not queue it again (its submit answered {followed.SubmitAnswer}): the result is from batch {followed.Batch}, which already held it.",
    };

    static string Span(TimeSpan span) =>
        span >= TimeSpan.FromDays(1) && span.TotalDays % 1 == 0 ? $"{span.TotalDays:0} day{(span.TotalDays == 1 ? "" : "s")}"
        : span >= TimeSpan.FromHours(1) ? $"{span.TotalHours:0.#} h"
        : span >= TimeSpan.FromMinutes(1) ? $"{span.TotalMinutes:0.#} min"
        : $"{span.TotalSeconds:0.#} s";
}
