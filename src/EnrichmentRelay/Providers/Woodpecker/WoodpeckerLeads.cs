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

    public static string? UidOf(EnrichmentRequested request) =>
        request.Lead?.WoodpeckerLead is { ValueKind: JsonValueKind.Object } lead
        && lead.TryGetProperty("uid", out var uid) && uid.ValueKind == JsonValueKind.String
        && !string.IsNullOrWhiteSpace(uid.GetString())
            ? uid.GetString()
            : null;

    public static string? ProspectEmailOf(EnrichmentRequested request) =>
        string.IsNullOrWhiteSpace(request.Lead?.Email) ? null : request.Lead.Email.Trim().ToLowerInvariant();

    /// <summary>The lead payload as its search returned it: Woodpecker recommends passing all of it, not only the uid.</summary>
    public static JsonNode LeadPayload(EnrichmentRequested request) => JsonNode.Parse(request.Lead!.WoodpeckerLead!.Value.GetRawText())!;

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

    public static string? EmailOnlyProblem(EnrichmentRequested request) =>
        request.Fields is { } fields && fields.Contains(EnrichmentField.Email) ? null : "finds emails only; ask for the email field.";

    /// <summary>Reads the queue answer shared by lead and prospect enrichment: <c>{uuid, leads_count, status}</c>.</summary>
    public static async Task<SubmitResult> ReadQueueAnswerAsync(HttpResponseMessage response, IReadOnlyList<PendingLead> leads, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
            return SubmitCalls.FromErrorStatus("Woodpecker", response, await WoodpeckerClient.ReadErrorAsync(response, ct), leads);

        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        var root = doc.RootElement;
        var uuid = root.TryGetProperty("uuid", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        var status = root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        return (status, uuid) switch
        {
            ("NOT_ENQUEUED", _) => SubmitCalls.Refused(leads, Outcome.Rejected,
                "Woodpecker enqueued none of these leads (NOT_ENQUEUED: they are already pending there).", status),
            ("CREDITS_EXHAUSTED", null) => SubmitCalls.Refused(leads, Outcome.InsufficientCredits,
                "Woodpecker: CREDITS_EXHAUSTED, not enough credits to enqueue this lead.", status),
            // ENQUEUED, PARTIALLY_ENQUEUED, or a partial CREDITS_EXHAUSTED: Woodpecker does not say which
            // leads it left out, so the poller compares the batch with what was sent.
            (_, not null) => new SubmitResult(SubmitStatus.Accepted, ExternalJobId: uuid, ProviderStatus: status),
            _ => SubmitCalls.Refused(leads, Outcome.Failed, $"Woodpecker answered the submit with status '{status}' and no batch.", status),
        };
    }

    /// <summary>The outcome for a lead the batch does not hold, by what the submit answer said.</summary>
    public static CompletionResult LeftOut(ProviderJobRecord job) => job.SubmitAnswer == "CREDITS_EXHAUSTED"
        ? new CompletionResult(Outcome.InsufficientCredits, Detail: "Woodpecker ran out of credits before enqueueing this lead (CREDITS_EXHAUSTED).")
        : new CompletionResult(Outcome.Rejected, Detail: $"Woodpecker did not enqueue this lead (its submit answered {job.SubmitAnswer ?? "without a status"}); it may already be pending there or credits ran short.");

    /// <summary>
    /// LinkedIn URLs compared the way people write them: no scheme, no www, no trailing slash or query.
    /// Lead Finder gives <c>linkedin.com/in/x</c> while prospects carry <c>https://www.linkedin.com/in/x/</c>.
    /// </summary>
    public static string? NormalizeLinkedIn(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
            return null;
        var text = url.Trim().ToLowerInvariant();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            text = text[(scheme + 3)..];
        if (text.StartsWith("www.", StringComparison.Ordinal))
            text = text[4..];
        var cut = text.IndexOfAny(['?', '#']);
        if (cut >= 0)
            text = text[..cut];
        return text.TrimEnd('/');
    }

    public static string? NormalizeDomain(string? website)
    {
        var text = NormalizeLinkedIn(website);
        return text?.Split('/')[0];
    }
}
