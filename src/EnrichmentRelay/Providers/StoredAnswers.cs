using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers;

/// <summary>An answer the ledger kept for a job: a call's answer as its client received it, or a callback body.</summary>
/// <param name="Endpoint">The call's method and route template (<c>GET v1/jobs/{id}</c>), or <see cref="Callback"/>.</param>
public sealed record StoredAnswer(string Endpoint, int? Status, string? Body, DateTimeOffset ReceivedAt)
{
    /// <summary>The endpoint of a callback body the provider posted to the relay.</summary>
    public const string Callback = "callback";
}

/// <summary>A lead of a job whose answers are translated again, and when its attempt on the job ended.</summary>
/// <param name="Lead">
/// The lead as its attempt asked; its <see cref="OpenLead.ProviderState"/> is what the request kept of this provider's
/// state when this job was its last (null when a waterfall moved it on, which clears it).
/// </param>
/// <param name="EndedAt">
/// When its attempt ended: an answer received after that did not decide it then (it ended at the submit, or by an
/// answer that is not stored), so it does not decide it now.
/// </param>
/// <param name="Lane">The lane its attempt was in (a provider with several kinds of job tells them apart by it).</param>
/// <param name="StateKept">
/// The request still holds this provider's state of the job (false once a waterfall moved it on, which clears it):
/// only then is <see cref="OpenLead.ProviderState"/> what the job left.
/// </param>
public sealed record StoredLead(OpenLead Lead, DateTimeOffset? EndedAt, string Lane = "", bool StateKept = true);

/// <summary>
/// Translates a job's stored answers again, with the translation as it is configured now, without calling the provider:
/// what lets a request completed under an older mapping be corrected (<c>POST /admin/renormalize</c>). One per provider
/// whose results are a function of its stored answers.
/// </summary>
public interface IAnswerTranslation
{
    ProviderName Provider { get; }

    /// <summary>
    /// The results <paramref name="answers"/> (in the order the relay received them) give the job's
    /// <paramref name="leads"/>: as when they were applied, a lead takes the first answer that decides it. A lead no
    /// answer decides (it ended at the submit, or at the relay's deadline) is left out, with the reason when it is
    /// something the answers alone cannot replay. Throws when an answer the translation needs cannot be read.
    /// </summary>
    /// <param name="leads">Every lead of the job, each asking what its attempt asked.</param>
    /// <param name="externalId">The job's id at the provider (null when it never had one).</param>
    AnswerReplay Translate(IReadOnlyList<StoredAnswer> answers, IReadOnlyList<StoredLead> leads, string? externalId);
}

/// <summary>What a job's stored answers give again.</summary>
/// <param name="Results">The leads they decide, and their results.</param>
/// <param name="NotReplayed">
/// Leads left out for a reason other than "no stored answer decided them", and that reason: the same text for every
/// lead left out so (a run counts requests by reason).
/// </param>
public sealed record AnswerReplay(IReadOnlyDictionary<Guid, LeadResult> Results, IReadOnlyDictionary<Guid, string> NotReplayed)
{
    public AnswerReplay(IReadOnlyDictionary<Guid, LeadResult> results) : this(results, new Dictionary<Guid, string>()) { }
}
