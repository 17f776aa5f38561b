using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>
/// Test control for a standalone sandbox, no auth (in-process tests use <see cref="PreceptSimulator"/> directly).
/// JSON is camelCase with enums as camelCase strings; delays are whole milliseconds.
/// </summary>
public static class PreceptControlApi
{
    /// <summary>A partial update: null or absent leaves a setting as it is; <c>defaultWebhookUrl: ""</c> clears it.</summary>
    public sealed record SettingsUpdate(
        decimal? Credits, LeadOutcome? DefaultOutcome, int? ProcessingDelayMs, int? ProcessingJitterMs,
        ContactFieldNaming? ContactFieldNaming, int? DuplicateDeliveries, bool? DropWebhooks, string? DefaultWebhookUrl,
        string? UnprocessedFieldName, int? WebhookRetryBaseDelayMs, int? SubmitLatencyMs,
        bool? DocumentedOnly = null, bool? ListFiltersByName = null, bool? ListShowsName = null, JobListShape? ListShape = null,
        int? ListPageSize = null, bool? JobShowsName = null, bool? EchoCustomData = null, bool? HoldJobsOpen = null, PopulationUpdate? Population = null,
        PhoneStyle? PhoneStyle = null)
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
            Require(ProcessingJitterMs is null or >= 0, "processingJitterMs", "Must be 0 or more.");
            Require(DuplicateDeliveries is null or >= 0, "duplicateDeliveries", "Must be 0 or more.");
            Require(WebhookRetryBaseDelayMs is null or >= 0, "webhookRetryBaseDelayMs", "Must be 0 or more.");
            Require(SubmitLatencyMs is null or >= 0, "submitLatencyMs", "Must be 0 or more.");
            Require(DefaultWebhookUrl is null or "" || PreceptSettings.IsHttpUrl(DefaultWebhookUrl), "defaultWebhookUrl",
                "Must be an absolute http(s) URL, or \"\" for none.");
            Require(UnprocessedFieldName is null || !string.IsNullOrWhiteSpace(UnprocessedFieldName), "unprocessedFieldName", "Must not be blank.");
            Require(ListPageSize is null or >= 1, "listPageSize", "Must be 1 or more.");
            Require(Population?.IsValid ?? true, "population", "share must be 0 to 1 (absent: off).");
            return problems;
        }

        public void ApplyTo(PreceptSettings settings)
        {
            if (Population is { } population) settings.Population = population.ToFoundShare();
            if (Credits is { } credits) settings.Credits = credits;
            if (DefaultOutcome is { } outcome) settings.DefaultOutcome = outcome;
            if (ProcessingDelayMs is { } delay) settings.ProcessingDelay = TimeSpan.FromMilliseconds(delay);
            if (ProcessingJitterMs is { } jitter) settings.ProcessingJitter = TimeSpan.FromMilliseconds(jitter);
            if (ContactFieldNaming is { } naming) settings.ContactFieldNaming = naming;
            if (DuplicateDeliveries is { } duplicates) settings.DuplicateDeliveries = duplicates;
            if (DropWebhooks is { } drop) settings.DropWebhooks = drop;
            if (DefaultWebhookUrl is { } url) settings.DefaultWebhookUrl = url.Length == 0 ? null : url;
            if (UnprocessedFieldName is { } field) settings.UnprocessedFieldName = field;
            if (WebhookRetryBaseDelayMs is { } retry) settings.WebhookRetryBaseDelay = TimeSpan.FromMilliseconds(retry);
            if (SubmitLatencyMs is { } latency) settings.SubmitLatency = TimeSpan.FromMilliseconds(latency);
            // The preset first, so the single switches of the same update refine it.
            if (DocumentedOnly is true) settings.UseDocumentedOnly();
            if (ListFiltersByName is { } filters) settings.ListFiltersByName = filters;
            if (ListShowsName is { } listName) settings.ListShowsName = listName;
            if (ListShape is { } shape) settings.ListShape = shape;
            if (ListPageSize is { } pageSize) settings.ListPageSize = pageSize;
            if (JobShowsName is { } jobName) settings.JobShowsName = jobName;
            if (EchoCustomData is { } echo) settings.EchoCustomData = echo;
            if (HoldJobsOpen is { } hold) settings.HoldJobsOpen = hold;
            if (PhoneStyle is { } phones) settings.PhoneStyle = phones;
        }
    }

    public sealed record SettingsView(
        decimal Credits, LeadOutcome DefaultOutcome, int ProcessingDelayMs, int ProcessingJitterMs,
        ContactFieldNaming ContactFieldNaming, int DuplicateDeliveries, bool DropWebhooks, string? DefaultWebhookUrl,
        string UnprocessedFieldName, int WebhookRetryBaseDelayMs, int SubmitLatencyMs,
        bool ListFiltersByName, bool ListShowsName, JobListShape ListShape, int ListPageSize, bool JobShowsName, bool EchoCustomData,
        bool HoldJobsOpen, FoundShare? Population, PhoneStyle PhoneStyle)
    {
        public static SettingsView Of(PreceptSettings s) => new(
            s.Credits, s.DefaultOutcome, (int)s.ProcessingDelay.TotalMilliseconds, (int)s.ProcessingJitter.TotalMilliseconds,
            s.ContactFieldNaming, s.DuplicateDeliveries, s.DropWebhooks, s.DefaultWebhookUrl,
            s.UnprocessedFieldName, (int)s.WebhookRetryBaseDelay.TotalMilliseconds, (int)s.SubmitLatency.TotalMilliseconds,
            s.ListFiltersByName, s.ListShowsName, s.ListShape, s.ListPageSize, s.JobShowsName, s.EchoCustomData, s.HoldJobsOpen, s.Population, s.PhoneStyle);
    }

    public sealed record OutcomeUpdate(LeadOutcome? Outcome);

    /// <summary>Each count replaces the one before; <c>statusCode</c> (400-599, default 500) goes with <c>failNextSubmits</c>.</summary>
    public sealed record FaultUpdate(int? FailNextSubmits, int? StatusCode, int? DropConnectionAfterAccept, int? FailNextJobs, int? FailJobsAfterLeads = null)
    {
        public Dictionary<string, string[]> Problems()
        {
            var problems = new Dictionary<string, string[]>();
            if (FailNextSubmits < 0) problems["failNextSubmits"] = ["Must be 0 or more."];
            if (StatusCode is < 400 or > 599) problems["statusCode"] = ["Must be an error status, 400 to 599."];
            if (DropConnectionAfterAccept < 0) problems["dropConnectionAfterAccept"] = ["Must be 0 or more."];
            if (FailNextJobs < 0) problems["failNextJobs"] = ["Must be 0 or more."];
            if (FailJobsAfterLeads < 0) problems["failJobsAfterLeads"] = ["Must be 0 or more."];
            return problems;
        }
    }

    public static RouteGroupBuilder MapPreceptControl(this IEndpointRouteBuilder app)
    {
        var control = app.MapGroup("/sandbox/precept");

        control.MapGet("/counters", (PreceptSimulator precept) => TypedResults.Json(precept.Counters, ControlJson.Options));
        control.MapGet("/jobs", (PreceptSimulator precept) => TypedResults.Json(precept.Jobs, ControlJson.Options));
        control.MapGet("/settings", (PreceptSimulator precept) => TypedResults.Json(SettingsView.Of(precept.Settings), ControlJson.Options));

        control.MapPost("/settings", async Task<Results<JsonHttpResult<SettingsView>, ValidationProblem>> (HttpRequest request, PreceptSimulator precept) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<SettingsUpdate>(request);
            problems = update?.Problems() ?? problems;
            if (update is null || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            update.ApplyTo(precept.Settings);
            return TypedResults.Json(SettingsView.Of(precept.Settings), ControlJson.Options);
        });

        // Catch-all and unescaped, so a LinkedIn URL key works with its slashes either encoded (%2F) or not.
        control.MapPut("/outcomes/{**key}", async Task<Results<NoContent, ValidationProblem>> (string key, HttpRequest request, PreceptSimulator precept) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<OutcomeUpdate>(request);
            if (update is { Outcome: null })
                problems["outcome"] = ["Required: found, emailOnly, phoneOnly, noContact, notFound or skipped."];
            key = Uri.UnescapeDataString(key);
            if (string.IsNullOrWhiteSpace(key))
                problems["key"] = ["Required: a linkedinUrl or a last name."];
            if (update?.Outcome is not { } outcome || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            precept.SetOutcome(key, outcome);
            return TypedResults.NoContent();
        });

        control.MapPost("/faults", async Task<Results<NoContent, ValidationProblem>> (HttpRequest request, PreceptSimulator precept) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<FaultUpdate>(request);
            problems = update?.Problems() ?? problems;
            if (update is null || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            if (update.FailNextSubmits is { } submits) precept.FailNextSubmits(submits, update.StatusCode ?? 500);
            if (update.DropConnectionAfterAccept is { } drops) precept.DropConnectionAfterAcceptNext(drops);
            if (update.FailNextJobs is { } failures) precept.FailNextJobs(failures, update.FailJobsAfterLeads ?? 0);
            return TypedResults.NoContent();
        });
        return control;
    }
}
