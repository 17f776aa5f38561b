using System.Text.Json;
using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// Lance's stored answers translated again. A Lance request ends once each of its tasks (person, field) is terminal, and
/// its result is <see cref="LanceTasks.Result"/> of those tasks and of its person's read: the same function here. Which
/// record decided each task, whether it was reused, and what the person held before the submit are worked out between
/// polls from answers read in other flushes and polls, and kept in the request's task state; that state is replayed as it
/// was kept, and the person read (<c>GET …/person/{id}</c>, the last one kept for the job before the request ended,
/// known by the <c>id</c> its body documents) is translated again. A request whose task state is gone (a waterfall
/// moved it on to another provider, which clears it) is not replayed.
/// </summary>
public sealed class LanceAnswerTranslation(IOptions<LanceOptions> options) : IAnswerTranslation
{
    public const string PersonRead = "GET api/v1/entities/prospects/person/{id}";

    public const string StateGone = "Lance: its task state was not kept (a waterfall moved it on to another provider), and which records decided " +
                                    "its tasks cannot be worked out from the answers alone";

    public const string PersonReadUnknown = "Lance: no person read kept for the job before it ended says it is this person's (by its id)";

    public ProviderName Provider => ProviderName.Lance;

    public AnswerReplay Translate(IReadOnlyList<StoredAnswer> answers, IReadOnlyList<StoredLead> leads, string? externalId)
    {
        var settings = options.Value;
        // Person reads by the person their body says they are, in the order they came.
        var reads = answers.Where(a => a is { Endpoint: PersonRead, Status: 200, Body: not null })
            .Select(a => (Answer: a, PersonId: LanceClient.PersonIdOf(a.Body!)))
            .Where(r => r.PersonId is not null)
            .OrderBy(r => r.Answer.ReceivedAt)
            .ToLookup(r => r.PersonId!, r => r.Answer, StringComparer.OrdinalIgnoreCase);
        var results = new Dictionary<Guid, LeadResult>();
        var notReplayed = new Dictionary<Guid, string>();
        foreach (var (lead, endedAt, _, stateKept) in leads)
        {
            if (!stateKept || lead.ProviderState is null)
            {
                notReplayed[lead.RequestId] = StateGone;
                continue;
            }
            var tasks = LanceTasks.Read(lead.ProviderState);
            if (tasks.Count == 0 || !tasks.Values.All(t => t.IsTerminal) || lead.Request.Lead?.LancePersonId is not { } personId)
                continue; // it did not end by its tasks (the submit refused it, or the relay gave up on it)
            var read = reads[personId].LastOrDefault(a => endedAt is null || a.ReceivedAt <= endedAt) is { } answer
                ? new PersonRead(LanceClient.ReadPerson(personId, answer.Body!), null)
                : null;
            if (LanceTasks.Result(new LanceTaskSet(personId, tasks), read, settings.CreditsPerEnrichment, settings.PhoneFormat) is { } result)
                results[lead.RequestId] = result;
            else
                notReplayed[lead.RequestId] = PersonReadUnknown;
        }
        return new AnswerReplay(results, notReplayed);
    }
}
