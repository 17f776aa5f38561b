using System.Net;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;

namespace EnrichmentRelay.Providers.Lance;

/// <summary>
/// One Lance task: a (person, field) enrichment. <c>unsent</c> until a bulk call took it; then Lance's
/// own status. <see cref="Outcome"/> is set once the task is terminal.
/// </summary>
public sealed record LanceTask(string Status, bool? DataFound = null, string? Error = null, Outcome? Outcome = null)
{
    public const string Unsent = "unsent";
    public bool IsTerminal => Outcome is not null;

    public static LanceTask From(LanceEnrichment record) => record.Status switch
    {
        "finished" => new(record.Status, record.DataFound, null, record.DataFound == true ? Contracts.Outcome.Found : Contracts.Outcome.NotFound),
        "failed" or "cancelled" => new(record.Status, record.DataFound, record.Error, Contracts.Outcome.Failed),
        "timeout" => new(record.Status, record.DataFound, record.Error, Contracts.Outcome.TimedOut),
        _ => new(record.Status),
    };
}

/// <summary>How the relay tracks a request's Lance tasks (in the request's ProviderState) and ends it.</summary>
public static class LanceTasks
{
    public const string Lane = "lance";
    public static readonly string[] LanceFields = ["emails", "phones"];

    public static string FieldOf(EnrichmentField field) => field == EnrichmentField.Email ? "emails" : "phones";

    public static Dictionary<string, LanceTask> Read(EnrichmentRequestRecord record) =>
        record.ProviderState is null ? [] : JsonSerializer.Deserialize<Dictionary<string, LanceTask>>(record.ProviderState)!;

    public static string Write(Dictionary<string, LanceTask> tasks) => JsonSerializer.Serialize(tasks);

    public static Dictionary<string, LanceTask> Initial(EnrichmentRequested request) =>
        (request.Fields ?? []).Distinct().ToDictionary(FieldOf, _ => new LanceTask(LanceTask.Unsent));

    /// <summary>
    /// Sends one bulk call for <paramref name="field"/> and records Lance's answer on each waiting task.
    /// A call that fails without an answer leaves its tasks <c>unsent</c> for the next poll to send again:
    /// safe, because Lance returns the existing pending or finished record for a person and field, free.
    /// </summary>
    public static async Task SendAsync(LanceClient client, string field, IReadOnlyList<(string PersonId, Dictionary<string, LanceTask> Tasks)> waiting,
        ILogger logger, CancellationToken ct)
    {
        foreach (var chunk in waiting.Chunk(LanceOptions.MaxIdsPerCall))
        {
            var ids = chunk.Select(w => w.PersonId).Distinct().ToList();
            var (response, failure) = await SubmitCalls.SendAsync("Lance", token => client.BulkAsync(field, ids, token), ct);
            if (failure is not null)
            {
                if (failure.Status == SubmitStatus.Unknown)
                    logger.LogWarning("A bulk call for {Field} of {Count} persons may or may not have reached Lance: {Detail}; the next poll asks Lance before sending any again",
                        field, ids.Count, failure.Detail);
                continue;
            }
            using (response)
            {
                if (response!.IsSuccessStatusCode)
                {
                    var records = LanceClient.ReadEnrichments(await response.Content.ReadAsStringAsync(ct))
                        .Where(r => r.Field == field)
                        .ToDictionary(r => r.EntityId, StringComparer.OrdinalIgnoreCase);
                    foreach (var (personId, tasks) in chunk)
                        if (records.TryGetValue(personId, out var record))
                            tasks[field] = LanceTask.From(record);
                    continue;
                }
                var error = await LanceClient.ReadErrorAsync(response, ct);
                Outcome? refused = response.StatusCode switch
                {
                    // All or nothing: Lance checks credits before doing any work.
                    HttpStatusCode.PaymentRequired => Outcome.InsufficientCredits,
                    HttpStatusCode.BadRequest => Outcome.Rejected,
                    HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Outcome.Failed,
                    _ => null, // 429 / 5xx: send again next poll
                };
                if (refused is { } outcome)
                    foreach (var (_, tasks) in chunk)
                        tasks[field] = new LanceTask("refused", Error: $"Lance: {error}", Outcome: outcome);
            }
        }
    }

    /// <summary>
    /// The request's end once every task is terminal (null before): Found when any field was found (its
    /// contacts read from the person record), else the most telling of the task outcomes.
    /// </summary>
    public static async Task<CompletionResult?> CompleteAsync(LanceClient client, string personId, Dictionary<string, LanceTask> tasks,
        Dictionary<string, LancePerson?> people, CancellationToken ct)
    {
        if (tasks.Count == 0 || tasks.Values.Any(t => !t.IsTerminal))
            return null;
        if (tasks.Values.Any(t => t.Outcome == Outcome.Found))
        {
            if (!people.TryGetValue(personId, out var person))
                people[personId] = person = await client.GetPersonAsync(personId, ct);
            // Persons are shared across Lance's organizations: the lists may hold contacts found for others too.
            return new CompletionResult(Outcome.Found,
                tasks.ContainsKey("emails") ? person?.Emails ?? [] : [],
                tasks.ContainsKey("phones") ? person?.Phones ?? [] : [],
                Detail: Detail(tasks, found: true));
        }
        Outcome[] severity = [Outcome.Failed, Outcome.TimedOut, Outcome.InsufficientCredits, Outcome.Rejected, Outcome.NotFound];
        var worst = severity.First(o => tasks.Values.Any(t => t.Outcome == o));
        return new CompletionResult(worst, Detail: Detail(tasks, found: false));
    }

    static string? Detail(Dictionary<string, LanceTask> tasks, bool found)
    {
        var notes = tasks.Where(t => t.Value.Outcome != Outcome.Found)
            .Select(t => $"{t.Key}: {t.Value.Error ?? (t.Value.Outcome == Outcome.NotFound ? "Lance found nothing" : t.Value.Status)}")
            .ToList();
        return notes.Count == 0 ? null : (found ? "Partly found. " : "") + string.Join("; ", notes) + ".";
    }
}
