using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>
/// Precept's stored reports translated again: the job reads (<c>GET v1/jobs/{id}</c>) that the relay applied, and, when
/// callbacks are applied unverified (<see cref="PreceptOptions.VerifyCallbacks"/> off), the callback bodies too; verified,
/// a callback was only a hint and is not trusted now either. The reports replay in the order they came, through the
/// same <see cref="PreceptTranslation"/> the webhook and the sweep use.
/// </summary>
public sealed class PreceptAnswerTranslation(IOptions<PreceptOptions> options) : IAnswerTranslation
{
    public const string JobRead = "GET v1/jobs/{id}";

    public ProviderName Provider => ProviderName.Precept;

    public AnswerReplay Translate(IReadOnlyList<StoredAnswer> answers, IReadOnlyList<StoredLead> leads, string? externalId)
    {
        var settings = options.Value;
        var decided = new Dictionary<Guid, LeadResult>();
        foreach (var answer in answers.OrderBy(a => a.ReceivedAt))
        {
            var applied = answer.Endpoint == JobRead && answer.Status == 200
                          || answer.Endpoint == StoredAnswer.Callback && !settings.VerifyCallbacks;
            if (!applied || answer.Body is null)
                continue;
            var report = PreceptJobReport.Read(answer.Body);
            // A job read before the job ended carries no results, and was applied as nothing.
            if (answer.Endpoint == JobRead && !(report.IsCompleted || report.IsFailed))
                continue;
            var open = leads.Select(l => l.Lead with { Ended = decided.ContainsKey(l.Lead.RequestId) || l.EndedAt < answer.ReceivedAt }).ToList();
            foreach (var (requestId, result) in PreceptTranslation.Translate(report, open, settings.PhoneFormat).Completed)
                decided.TryAdd(requestId, result);
        }
        return new AnswerReplay(decided);
    }
}
