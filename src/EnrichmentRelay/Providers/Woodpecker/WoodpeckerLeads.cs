using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;

namespace EnrichmentRelay.Providers.Woodpecker;

/// <summary>How the relay reads a request for Woodpecker: the Lead Finder uid, or an existing prospect's email.</summary>
public static class WoodpeckerLeads
{
    public const string LeadsLane = "woodpecker-leads";
    public const string ProspectsLane = "woodpecker-prospects";

    /// <summary>The lead fields of the queue page's body schema that are strings (<c>uid</c> is checked on its own).</summary>
    static readonly string[] TextFields =
    [
        "full_name", "first_name", "last_name", "gender", "linkedin_url", "company_name", "company_website", "industry",
        "job_title", "job_title_role", "location_name", "city", "state", "country",
    ];

    const string JobTitleLevels = "job_title_levels";

    public const string PhoneNotLookedUp = "Phone was not looked up: Woodpecker finds emails only.";

    public static string? UidOf(EnrichmentRequested request) =>
        request.Lead?.WoodpeckerLead is { ValueKind: JsonValueKind.Object } lead
        && lead.TryGetProperty("uid", out var uid) && uid.ValueKind == JsonValueKind.String
        && !string.IsNullOrWhiteSpace(uid.GetString())
            ? uid.GetString()
            : null;

    public static string? ProspectEmailOf(EnrichmentRequested request) =>
        string.IsNullOrWhiteSpace(request.Lead?.Email) ? null : request.Lead.Email.Trim().ToLowerInvariant();

    /// <summary>
    /// What is wrong with a lead payload against the queue page's body schema, each with the field it concerns:
    /// an object, <c>uid</c> a non-empty string, the known fields of their documented types (null is read as
    /// absent). Fields the page does not list pass through unchecked; its size is one of intake's limits at the door.
    /// </summary>
    public static IEnumerable<(string Field, string Problem)> PayloadProblems(JsonElement lead)
    {
        const string Field = "lead.woodpeckerLead";
        if (lead.ValueKind != JsonValueKind.Object)
        {
            yield return (Field, $"'{Field}' must be the Lead Finder lead object as its search returned it (with its uid).");
            yield break;
        }
        if (!lead.TryGetProperty("uid", out var uid) || uid.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(uid.GetString()))
            yield return ($"{Field}.uid", $"'{Field}.uid' is required: the lead's uid from the Lead Finder search, a non-empty string.");
        foreach (var name in TextFields)
        {
            if (lead.TryGetProperty(name, out var value) && value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                yield return ($"{Field}.{name}", $"'{Field}.{name}' must be a string.");
        }
        if (lead.TryGetProperty(JobTitleLevels, out var levels) && levels.ValueKind != JsonValueKind.Null
            && (levels.ValueKind != JsonValueKind.Array || levels.EnumerateArray().Any(l => l.ValueKind != JsonValueKind.String)))
            yield return ($"{Field}.{JobTitleLevels}", $"'{Field}.{JobTitleLevels}' must be an array of strings.");
    }

    /// <summary>
    /// The lead payload as its search returned it: Woodpecker recommends passing all of it, not only the uid. Known
    /// fields that are null are left out, since the page types them as strings; other fields go as they are.
    /// </summary>
    public static JsonNode LeadPayload(EnrichmentRequested request)
    {
        var payload = JsonNode.Parse(request.Lead!.WoodpeckerLead!.Value.GetRawText())!.AsObject();
        foreach (var name in TextFields.Append(JobTitleLevels).Where(n => payload.ContainsKey(n) && payload[n] is null).ToList())
            payload.Remove(name);
        return payload;
    }

    public static JsonNode ProspectPayload(EnrichmentRequested request)
    {
        var lead = request.Lead!;
        var prospect = new JsonObject { ["email"] = ProspectEmailOf(request) };
        void Add(string name, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
                prospect[name] = value;
        }
        Add("first_name", lead.FirstName);
        Add("last_name", lead.LastName);
        Add("linkedin_url", lead.LinkedInUrl);
        Add("company_name", lead.CompanyName);
        Add("company_website", lead.CompanyDomain);
        return prospect;
    }

    /// <summary>Woodpecker finds emails only: a request that does not ask for one is for another provider.</summary>
    public static string? EmailOnlyProblem(EnrichmentRequested request) =>
        request.Fields is { } fields && fields.Contains(EnrichmentField.Email)
            ? null
            : "finds emails only, and this request does not ask for email (ask for email too, or allow a provider that finds phones).";

    /// <summary>A completion as the request sees it: one that also asked for phone is told that phone was not looked up.</summary>
    public static CompletionResult ForRequest(EnrichmentRequested request, CompletionResult result) =>
        request.Fields?.Contains(EnrichmentField.Phone) == true
            ? result with { Detail = result.Detail is null ? PhoneNotLookedUp : $"{result.Detail} {PhoneNotLookedUp}" }
            : result;

    /// <summary>Reads the queue answer shared by lead and prospect enrichment: <c>{uuid, leads_count, status}</c>.</summary>
    public static async Task<SubmitResult> ReadQueueAnswerAsync(HttpResponseMessage response, IReadOnlyList<PendingLead> leads, CancellationToken ct)
    {
        SubmitResult result;
        if (!response.IsSuccessStatusCode)
        {
            var error = await WoodpeckerClient.ReadErrorAsync(response, ct);
            // Woodpecker drops what waits too long behind its one-request-at-a-time rule, with a status it does not
            // document (v1 used 400 E_TOO_MANY_REQUESTS): such a 400 refuses no lead, it means "not now".
            result = response.StatusCode == HttpStatusCode.BadRequest && WoodpeckerClient.IsTooManyRequests(error)
                ? new SubmitResult(SubmitStatus.NotSent, Detail: $"Woodpecker: {error}")
                : SubmitCalls.FromErrorStatus("Woodpecker", response, error, leads);
        }
        else
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = doc.RootElement;
            var uuid = root.TryGetProperty("uuid", out var u) && u.ValueKind == JsonValueKind.String && u.GetString() is { Length: > 0 } id ? id : null;
            var status = root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            result = (status, uuid) switch
            {
                // "None of the submitted leads were queued because they are already pending": the poller finds the
                // batches that hold them and follows those to their results.
                (WoodpeckerStatus.NotEnqueued, _) => new SubmitResult(SubmitStatus.Accepted, ProviderStatus: status),
                (WoodpeckerStatus.CreditsExhausted, null) => SubmitCalls.Refused(leads, Outcome.InsufficientCredits,
                    "Woodpecker: CREDITS_EXHAUSTED, not enough credits to enqueue this lead.", status),
                // ENQUEUED, PARTIALLY_ENQUEUED, or a partial CREDITS_EXHAUSTED: Woodpecker does not say which leads it
                // left out, so the poller compares the batch with what was sent.
                (_, not null) => new SubmitResult(SubmitStatus.Accepted, ExternalJobId: uuid, ProviderStatus: status),
                _ => SubmitCalls.Refused(leads, Outcome.Failed, $"Woodpecker answered the submit with status '{status}' and no batch.", status),
            };
        }
        if (result.Completed is not { Count: > 0 } completed)
            return result;
        // Woodpecker applies credits only when enrichment finds data: a lead refused at the submit cost nothing.
        var requests = leads.ToDictionary(l => l.RequestId, l => l.Request);
        return result with
        {
            Completed = completed.ToDictionary(c => c.Key, c => ForRequest(requests[c.Key], c.Value with { CreditsCharged = c.Value.CreditsCharged ?? 0 })),
        };
    }
}

/// <summary>The status words of Woodpecker's Lead Finder pages.</summary>
public static class WoodpeckerStatus
{
    public const string Enqueued = "ENQUEUED";
    public const string PartiallyEnqueued = "PARTIALLY_ENQUEUED";
    public const string NotEnqueued = "NOT_ENQUEUED";
    public const string CreditsExhausted = "CREDITS_EXHAUSTED";
    public const string Processed = "PROCESSED";
    public const string ConvertedToProspect = "CONVERTED_TO_PROSPECT";
    public const string NotConvertedToProspect = "NOT_CONVERTED_TO_PROSPECT";
    public const string ProcessedEnriched = "PROCESSED_ENRICHED";
    public const string ProcessedNotEnriched = "PROCESSED_NOT_ENRICHED";

    /// <summary>A submit answer that says some leads may have been left out for want of credits.</summary>
    public static bool LeftOutForCredits(string? submitAnswer) => submitAnswer is PartiallyEnqueued or CreditsExhausted;
}
