using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Sandbox.Woodpecker;

/// <summary>
/// Test control for a standalone sandbox, no auth (in-process tests use <see cref="WoodpeckerSimulator"/> directly).
/// JSON is camelCase with enums as camelCase strings; durations are whole milliseconds.
/// </summary>
public static class WoodpeckerControlApi
{
    /// <summary>A partial update: null or absent leaves a setting as it is.</summary>
    public sealed record SettingsUpdate(
        decimal? Credits, long? ProcessingDelayMs, long? ProspectVisibilityDelayMs, LeadConversion? DefaultLeadOutcome,
        long? ListWindowMs, bool? WrapGetByUuid, bool? CreditsExhaustedWithPartialBatch, int? MaxQueued, long? QueueWaitMs,
        int? TooManyRequestsStatus, long? RequestProcessingTimeMs,
        bool? ProspectListHonoursSort = null, bool? LinkedInSearchable = null, bool? AlreadyPendingLeavesBatchEnqueued = null,
        bool? CreatedAfterExcludesTheDay = null, int? AccountUtcOffsetMinutes = null, bool? ConvertedProspectsKeepLinkedIn = null,
        string? ProspectPendingStatus = null, string? NotAProspectStatus = null, bool? StatusQueryWindowAppliesToEmails = null, PopulationUpdate? Population = null)
    {
        public Dictionary<string, string[]> Problems()
        {
            var problems = new Dictionary<string, string[]>();
            void Require(bool ok, string field, string message)
            {
                if (!ok)
                    problems[field] = [message];
            }
            Require(ProcessingDelayMs is null or >= 0, "processingDelayMs", "Must be 0 or more.");
            Require(ProspectVisibilityDelayMs is null or >= 0, "prospectVisibilityDelayMs", "Must be 0 or more.");
            Require(ListWindowMs is null or >= 0, "listWindowMs", "Must be 0 or more.");
            Require(MaxQueued is null or >= 0, "maxQueued", "Must be 0 or more.");
            Require(QueueWaitMs is null or >= 0, "queueWaitMs", "Must be 0 or more.");
            Require(TooManyRequestsStatus is null or (>= 400 and <= 599), "tooManyRequestsStatus", "Must be an error status, 400 to 599.");
            Require(RequestProcessingTimeMs is null or >= 0, "requestProcessingTimeMs", "Must be 0 or more.");
            Require(AccountUtcOffsetMinutes is null or (>= -720 and <= 840), "accountUtcOffsetMinutes", "Must be -720 to 840 (UTC-12:00 to UTC+14:00).");
            Require(ProspectPendingStatus is null || !string.IsNullOrWhiteSpace(ProspectPendingStatus), "prospectPendingStatus", "Must not be blank.");
            Require(NotAProspectStatus is null || !string.IsNullOrWhiteSpace(NotAProspectStatus), "notAProspectStatus", "Must not be blank.");
            Require(Population?.IsValid ?? true, "population", "share must be 0 to 1 (absent: off).");
            return problems;
        }

        public void ApplyTo(WoodpeckerSettings s)
        {
            if (Population is { } population) s.Population = population.ToFoundShare();
            if (Credits is { } credits) s.Credits = credits;
            if (ProcessingDelayMs is { } delay) s.ProcessingDelay = TimeSpan.FromMilliseconds(delay);
            if (ProspectVisibilityDelayMs is { } visibility) s.ProspectVisibilityDelay = TimeSpan.FromMilliseconds(visibility);
            if (DefaultLeadOutcome is { } outcome) s.DefaultLeadOutcome = outcome;
            if (ListWindowMs is { } window) s.ListWindow = TimeSpan.FromMilliseconds(window);
            if (WrapGetByUuid is { } wrap) s.WrapGetByUuid = wrap;
            if (CreditsExhaustedWithPartialBatch is { } partial) s.CreditsExhaustedWithPartialBatch = partial;
            if (MaxQueued is { } queued) s.MaxQueued = queued;
            if (QueueWaitMs is { } wait) s.QueueWait = TimeSpan.FromMilliseconds(wait);
            if (TooManyRequestsStatus is { } tooMany) s.TooManyRequestsStatus = tooMany;
            if (RequestProcessingTimeMs is { } work) s.RequestProcessingTime = TimeSpan.FromMilliseconds(work);
            if (ProspectListHonoursSort is { } sort) s.ProspectListHonoursSort = sort;
            if (LinkedInSearchable is { } linkedIn) s.LinkedInSearchable = linkedIn;
            if (AlreadyPendingLeavesBatchEnqueued is { } enqueued) s.AlreadyPendingLeavesBatchEnqueued = enqueued;
            if (CreatedAfterExcludesTheDay is { } excludes) s.CreatedAfterExcludesTheDay = excludes;
            if (AccountUtcOffsetMinutes is { } offset) s.AccountUtcOffset = TimeSpan.FromMinutes(offset);
            if (ConvertedProspectsKeepLinkedIn is { } keep) s.ConvertedProspectsKeepLinkedIn = keep;
            if (ProspectPendingStatus is { } pending) s.ProspectPendingStatus = pending;
            if (NotAProspectStatus is { } notAProspect) s.NotAProspectStatus = notAProspect;
            if (StatusQueryWindowAppliesToEmails is { } windowed) s.StatusQueryWindowAppliesToEmails = windowed;
        }
    }

    public sealed record SettingsView(
        decimal Credits, long ProcessingDelayMs, long ProspectVisibilityDelayMs, LeadConversion DefaultLeadOutcome,
        long ListWindowMs, bool WrapGetByUuid, bool CreditsExhaustedWithPartialBatch, int MaxQueued, long QueueWaitMs,
        int TooManyRequestsStatus, long RequestProcessingTimeMs,
        bool ProspectListHonoursSort, bool LinkedInSearchable, bool AlreadyPendingLeavesBatchEnqueued, bool CreatedAfterExcludesTheDay,
        int AccountUtcOffsetMinutes, bool ConvertedProspectsKeepLinkedIn, string ProspectPendingStatus, string NotAProspectStatus,
        bool StatusQueryWindowAppliesToEmails, FoundShare? Population)
    {
        public static SettingsView Of(WoodpeckerSettings s) => new(
            s.Credits, Ms(s.ProcessingDelay), Ms(s.ProspectVisibilityDelay), s.DefaultLeadOutcome, Ms(s.ListWindow),
            s.WrapGetByUuid, s.CreditsExhaustedWithPartialBatch, s.MaxQueued, Ms(s.QueueWait), s.TooManyRequestsStatus,
            Ms(s.RequestProcessingTime),
            s.ProspectListHonoursSort, s.LinkedInSearchable, s.AlreadyPendingLeavesBatchEnqueued, s.CreatedAfterExcludesTheDay,
            (int)s.AccountUtcOffset.TotalMinutes, s.ConvertedProspectsKeepLinkedIn, s.ProspectPendingStatus, s.NotAProspectStatus,
            s.StatusQueryWindowAppliesToEmails, s.Population);

        static long Ms(TimeSpan span) => (long)span.TotalMilliseconds;
    }

    public sealed record OutcomeUpdate(LeadConversion? Outcome);

    public sealed record EnrichmentUpdate(bool? Enriched);

    public sealed record ProspectAdd(string? Email, string? FirstName, string? LastName, string? Company, string? Website, string? LinkedinUrl);

    /// <summary>
    /// <c>forceNextSubmitStatus</c> with <c>enqueueCount</c> (default 0) shapes the next submit's answer;
    /// <c>failNextSubmits</c> with <c>statusCode</c> (400-599, default 500) fails the next submits;
    /// <c>dropConnectionAfterAccept</c> carries out the next submits but cuts the connection instead of answering;
    /// <c>failStatusQueriesFor</c> (an email) makes every status query asking about it answer <c>statusCode</c> (default 400).
    /// </summary>
    public sealed record FaultUpdate(string? ForceNextSubmitStatus, int? EnqueueCount, int? FailNextSubmits, int? StatusCode,
        int? DropConnectionAfterAccept = null, string? FailStatusQueriesFor = null)
    {
        public Dictionary<string, string[]> Problems()
        {
            var problems = new Dictionary<string, string[]>();
            if (ForceNextSubmitStatus is { } status && string.IsNullOrWhiteSpace(status)) problems["forceNextSubmitStatus"] = ["Must not be blank."];
            if (EnqueueCount < 0) problems["enqueueCount"] = ["Must be 0 or more."];
            if (FailNextSubmits < 0) problems["failNextSubmits"] = ["Must be 0 or more."];
            if (DropConnectionAfterAccept < 0) problems["dropConnectionAfterAccept"] = ["Must be 0 or more."];
            if (FailStatusQueriesFor is { } email && !email.Contains('@')) problems["failStatusQueriesFor"] = ["Must be an email address."];
            if (StatusCode is < 400 or > 599) problems["statusCode"] = ["Must be an error status, 400 to 599."];
            return problems;
        }
    }

    public static RouteGroupBuilder MapWoodpeckerControl(this IEndpointRouteBuilder app)
    {
        var control = app.MapGroup("/sandbox/woodpecker");

        control.MapGet("/counters", (WoodpeckerSimulator woodpecker) => TypedResults.Json(woodpecker.Counters, ControlJson.Options));
        control.MapGet("/batches", (WoodpeckerSimulator woodpecker) => TypedResults.Json(woodpecker.Batches, ControlJson.Options));
        control.MapGet("/prospects", (WoodpeckerSimulator woodpecker) => TypedResults.Json(woodpecker.Prospects, ControlJson.Options));
        control.MapGet("/settings", (WoodpeckerSimulator woodpecker) => TypedResults.Json(SettingsView.Of(woodpecker.Settings), ControlJson.Options));

        control.MapPost("/settings", async Task<Results<JsonHttpResult<SettingsView>, ValidationProblem>> (HttpRequest request, WoodpeckerSimulator woodpecker) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<SettingsUpdate>(request);
            problems = update?.Problems() ?? problems;
            if (update is null || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            update.ApplyTo(woodpecker.Settings);
            return TypedResults.Json(SettingsView.Of(woodpecker.Settings), ControlJson.Options);
        });

        // Every reading the vendor pages leave open, set to the least convenient one they allow (WoodpeckerSettings.UseDocumentedOnly).
        control.MapPost("/settings/documented-only", (WoodpeckerSimulator woodpecker) =>
        {
            woodpecker.Settings.UseDocumentedOnly();
            return TypedResults.Json(SettingsView.Of(woodpecker.Settings), ControlJson.Options);
        });

        control.MapPut("/leads/{uid}/outcome", async Task<Results<NoContent, ValidationProblem>> (string uid, HttpRequest request, WoodpeckerSimulator woodpecker) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<OutcomeUpdate>(request);
            if (update is { Outcome: null })
                problems["outcome"] = ["Required: converted, notConverted or unrecognized."];
            if (update?.Outcome is not { } outcome || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            woodpecker.SetLeadOutcome(Uri.UnescapeDataString(uid), outcome);
            return TypedResults.NoContent();
        });

        control.MapPut("/prospects/{email}/enrichment", async Task<Results<NoContent, ValidationProblem>> (string email, HttpRequest request, WoodpeckerSimulator woodpecker) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<EnrichmentUpdate>(request);
            if (update is { Enriched: null })
                problems["enriched"] = ["Required: true or false."];
            if (update?.Enriched is not { } enriched || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            woodpecker.SetProspectEnrichment(Uri.UnescapeDataString(email), enriched);
            return TypedResults.NoContent();
        });

        control.MapPost("/prospects", async Task<Results<JsonHttpResult<WoodpeckerProspectSnapshot>, ValidationProblem>> (HttpRequest request, WoodpeckerSimulator woodpecker) =>
        {
            var (add, problems) = await ControlJson.ReadAsync<ProspectAdd>(request);
            if (add is not null && (string.IsNullOrWhiteSpace(add.Email) || !add.Email.Contains('@')))
                problems["email"] = ["Required: an email address."];
            if (add?.Email is not { } email || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            var id = woodpecker.AddProspect(email, add.FirstName, add.LastName, add.Company, add.Website, add.LinkedinUrl);
            return TypedResults.Json(woodpecker.Prospects.Single(p => p.Id == id), ControlJson.Options, statusCode: StatusCodes.Status201Created);
        });

        control.MapPost("/faults", async Task<Results<NoContent, ValidationProblem>> (HttpRequest request, WoodpeckerSimulator woodpecker) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<FaultUpdate>(request);
            problems = update?.Problems() ?? problems;
            if (update is null || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            if (update.ForceNextSubmitStatus is { } status) woodpecker.ForceNextSubmit(status, update.EnqueueCount ?? 0);
            if (update.FailNextSubmits is { } submits) woodpecker.FailNextSubmits(submits, update.StatusCode ?? 500);
            if (update.DropConnectionAfterAccept is { } drops) woodpecker.DropConnectionAfterAcceptNext(drops);
            if (update.FailStatusQueriesFor is { } refused) woodpecker.FailStatusQueriesFor(refused, update.StatusCode ?? 400);
            return TypedResults.NoContent();
        });
        return control;
    }
}
