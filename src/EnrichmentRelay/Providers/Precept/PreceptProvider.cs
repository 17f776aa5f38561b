using System.Text.Json;
using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Providers.Precept;

/// <summary>Submits batches to Precept as one job each; results come back through the webhook.</summary>
public sealed class PreceptProvider(
    PreceptClient client,
    IOptions<PreceptOptions> options,
    ILogger<PreceptProvider> logger) : IEnrichmentProvider
{
    public ProviderName Name => ProviderName.Precept;
    public string Lane => "precept";
    public int MaxBatchSize => options.Value.BatchSize;
    public TimeSpan FlushWindow => options.Value.FlushWindow;

    public string? WhyCannotServe(EnrichmentRequested request)
    {
        var lead = request.Lead!;
        if (!string.IsNullOrWhiteSpace(lead.LinkedInUrl))
            return null;
        if (!string.IsNullOrWhiteSpace(lead.FirstName) && !string.IsNullOrWhiteSpace(lead.LastName)
            && (!string.IsNullOrWhiteSpace(lead.CompanyName) || !string.IsNullOrWhiteSpace(lead.CompanyDomain)))
            return null;
        return "needs lead.linkedInUrl, or lead.firstName + lead.lastName + lead.companyName or lead.companyDomain.";
    }

    public async Task<SubmitResult> SubmitAsync(SubmitCall call, CancellationToken ct)
    {
        var leads = call.Leads;
        var body = new PreceptEnrichRequest(
            Name: call.JobName,
            WebhookUrl: call.CallbackUrl?.ToString() ?? throw new InvalidOperationException("A Precept job needs its callback address."),
            Leads: leads.Select(ToPreceptLead).ToList());

        var (response, failure) = await SubmitCalls.SendAsync("Precept", token => client.StartEnrichmentAsync(body, token), ct);
        if (failure is not null)
            return failure;

        using (response)
        {
            if (response!.IsSuccessStatusCode)
                return await AcceptedAsync(response, leads, ct);

            var error = await PreceptClient.ReadErrorAsync(response, ct);
            logger.LogWarning("Precept refused job {JobName}: {Status} {Error}", call.JobName, (int)response.StatusCode, error);
            return SubmitCalls.FromErrorStatus("Precept", response, error, leads);
        }
    }

    static async Task<SubmitResult> AcceptedAsync(HttpResponseMessage response, IReadOnlyList<PendingLead> leads, CancellationToken ct)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        var root = doc.RootElement;
        var jobId = root.TryGetProperty("enrichment_id", out var id) ? id.GetString() : null;

        // A credit-capped job (202 with finalLimit) covers only the first finalLimit leads. Precept does not
        // document the name of its "unprocessed" list, so take any list of leads carrying our key, and fall
        // back to position when there is none.
        var cut = new HashSet<Guid>();
        foreach (var property in root.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Array))
            foreach (var item in property.Value.EnumerateArray())
                if (PreceptResults.RequestIdOf(item) is { } rid)
                    cut.Add(rid);
        if (cut.Count == 0 && root.TryGetProperty("finalLimit", out var limit) && limit.TryGetInt32(out var finalLimit)
            && finalLimit < leads.Count)
            cut.UnionWith(leads.Skip(Math.Max(finalLimit, 0)).Select(l => l.RequestId));

        var completed = leads.Where(l => cut.Contains(l.RequestId)).ToDictionary(
            l => l.RequestId,
            _ => new LeadResult(Outcome.InsufficientCredits,
                Detail: "Precept accepted only part of the batch: its credit balance ran out before this lead."));
        return new SubmitResult(SubmitStatus.Accepted, ExternalJobId: jobId, Completed: completed);
    }

    static PreceptLead ToPreceptLead(PendingLead pending)
    {
        var lead = pending.Request.Lead!;
        return new PreceptLead(
            LinkedinUrl: lead.LinkedInUrl,
            FirstName: lead.FirstName,
            LastName: lead.LastName,
            CompanyName: lead.CompanyName,
            CompanyDomain: lead.CompanyDomain,
            EnrichType: (pending.Request.Fields ?? []).Select(f => f == EnrichmentField.Email ? "emails" : "phones").ToList(),
            CustomData: new Dictionary<string, string> { [PreceptResults.RequestKey] = pending.RequestId.ToString() });
    }
}
