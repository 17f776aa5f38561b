using System.Text.Json;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>
/// Woodpecker's stored answers translated again, with the rules the job reader applies
/// (<see cref="WoodpeckerOutcomes"/>, <see cref="ConvertedLead"/>). A lead of a lead-enrichment job is decided by the
/// first batch answer (the list, or the batch read by uuid) that shows it processed in its job's own batch; a converted
/// one by the prospect answers (<c>GET v1/prospects</c>) kept before it ended, matched as the reader matches. A
/// prospect-enrichment job's lead is decided by the first status query answer that shows it processed in its job's
/// batch; an enriched one by the prospect record those answers hold. What rests on time or on the ledger rather than on
/// an answer is not replayed: a result taken from another batch that already held the lead (whether this relay paid
/// for that batch was read from the ledger), a lead no batch held (left out for credits, or given up), the deadline's
/// last word, and a converted lead whose prospect was never matched. Bodies kept cut are not read.
/// </summary>
public sealed class WoodpeckerAnswerTranslation : IAnswerTranslation
{
    public const string BatchList = "GET v2/lead_finder/leads/enrichments";
    public const string BatchRead = "GET v2/lead_finder/leads/enrichments/{uuid}";
    public const string StatusQuery = "POST v2/lead_finder/prospects/enrichments/statuses/query";
    public const string ProspectRead = "GET v1/prospects";

    public const string StateGone = "Woodpecker: its state was not kept (a waterfall moved it on to another provider), so whether its result " +
                                    "came from its own batch cannot be told";

    public const string FromAnotherBatch = "Woodpecker: its result came from another batch that already held it, and who paid for that batch " +
                                           "was read from the ledger at the time, not from an answer";

    public const string ProspectNotKept = "Woodpecker: found (and charged for), but no prospect answer kept before it ended holds its prospect";

    public ProviderName Provider => ProviderName.Woodpecker;

    public AnswerReplay Translate(IReadOnlyList<StoredAnswer> answers, IReadOnlyList<StoredLead> leads, string? externalId)
    {
        var read = answers.Where(a => a is { Status: 200, Body: not null } && !ProviderAnswers.WasCut(a.Body))
            .OrderBy(a => a.ReceivedAt)
            .Select(Read)
            .ToList();
        var results = new Dictionary<Guid, LeadResult>();
        var notReplayed = new Dictionary<Guid, string>();
        foreach (var lead in leads)
        {
            var request = lead.Lead.Request;
            if (!lead.StateKept)
            {
                notReplayed[lead.Lead.RequestId] = StateGone;
                continue;
            }
            if (WoodpeckerRequestState.Read(lead.Lead.ProviderState).Batch is not null)
            {
                notReplayed[lead.Lead.RequestId] = FromAnotherBatch;
                continue;
            }
            if (externalId is null)
                continue; // its job never had a batch: the lead ended at the submit, or none of Woodpecker's answers held it
            var before = read.Where(a => lead.EndedAt is null || a.ReceivedAt <= lead.EndedAt).ToList();
            var prospects = before.SelectMany(a => a.Prospects).ToList();
            var result = lead.Lane == WoodpeckerLeads.ProspectsLane
                ? Prospect(WoodpeckerLeads.ProspectEmailOf(request), before, prospects, externalId)
                : Lead(request, before, prospects, externalId);
            if (result is (null, { } why))
                notReplayed[lead.Lead.RequestId] = why;
            else if (result is ({ } decided, _))
                results[lead.Lead.RequestId] = WoodpeckerLeads.ForRequest(request, decided);
        }
        return new AnswerReplay(results, notReplayed);
    }

    /// <summary>A lead of a lead-enrichment job: the first answer showing it processed in its own batch.</summary>
    static (LeadResult?, string?)? Lead(EnrichmentRequested request, List<ReadAnswer> answers, List<WoodpeckerProspect> prospects, string batch)
    {
        if (WoodpeckerLeads.UidOf(request) is not { } uid)
            return null;
        var processed = answers.SelectMany(a => a.Batches).Where(b => b.Uuid == batch)
            .Select(b => b.Leads.FirstOrDefault(l => l.Uid == uid))
            .FirstOrDefault(l => l is { Status: WoodpeckerStatus.Processed });
        if (processed is null)
            return null;
        if (WoodpeckerOutcomes.OfProcessedLead(processed.ProcessingResult, null) is { } result)
            return (result, null);
        return ConvertedLead.Of(request).Converted(prospects, null) is { } found ? (found, null) : (null, ProspectNotKept);
    }

    /// <summary>A lead of a prospect-enrichment job: the first status showing it processed in its own batch.</summary>
    static (LeadResult?, string?)? Prospect(string? email, List<ReadAnswer> answers, List<WoodpeckerProspect> prospects, string batch)
    {
        if (email is null)
            return null;
        var processed = answers.SelectMany(a => a.Statuses)
            .FirstOrDefault(s => s.Uuid == batch && s.Email.Trim().ToLowerInvariant() == email
                                 && s.Status?.StartsWith(WoodpeckerStatus.Processed, StringComparison.Ordinal) == true);
        if (processed is null)
            return null;
        if (WoodpeckerOutcomes.OfProspectStatus(processed.Status, null) is { } result)
            return (result, null);
        return WoodpeckerOutcomes.EnrichedRecord(email, prospects, null) is { } found ? (found, null) : (null, ProspectNotKept);
    }

    /// <summary>One kept answer, read as what its endpoint answers.</summary>
    sealed record ReadAnswer(DateTimeOffset ReceivedAt, IReadOnlyList<WoodpeckerBatch> Batches, IReadOnlyList<WoodpeckerProspectStatus> Statuses,
        IReadOnlyList<WoodpeckerProspect> Prospects);

    static ReadAnswer Read(StoredAnswer answer)
    {
        if (answer.Endpoint is not (BatchList or BatchRead or StatusQuery or ProspectRead))
            return new ReadAnswer(answer.ReceivedAt, [], [], []);
        using var body = JsonDocument.Parse(answer.Body!);
        var root = body.RootElement;
        return answer.Endpoint switch
        {
            BatchList => new ReadAnswer(answer.ReceivedAt, WoodpeckerClient.ReadBatchList(root), [], []),
            BatchRead => new ReadAnswer(answer.ReceivedAt, WoodpeckerClient.ReadBatchBody(root) is { } batch ? [batch] : [], [], []),
            StatusQuery => new ReadAnswer(answer.ReceivedAt, [], WoodpeckerClient.ReadProspectStatuses(root), []),
            _ => new ReadAnswer(answer.ReceivedAt, [], [], WoodpeckerClient.ReadProspects(root)),
        };
    }
}
