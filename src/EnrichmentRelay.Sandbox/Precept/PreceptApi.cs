using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Precept;

public static class PreceptApi
{
    /// <summary>The vendor's routes, with its paths, field names and status codes.</summary>
    public static RouteGroupBuilder MapPreceptApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.AddEndpointFilter(async (context, next) =>
        {
            var precept = context.HttpContext.RequestServices.GetRequiredService<PreceptSimulator>();
            return precept.IsAuthorized(context.HttpContext.Request.Headers.Authorization)
                ? await next(context)
                : Results.Json(new { error = "Unauthorized" }, statusCode: StatusCodes.Status401Unauthorized);
        });

        v1.MapPost("/leads/enrich", async (HttpContext http, PreceptSimulator precept) =>
        {
            JsonNode? body;
            try
            {
                body = await JsonNode.ParseAsync(http.Request.Body);
            }
            catch (JsonException)
            {
                return Results.Json(new { error = "Malformed JSON body." }, statusCode: StatusCodes.Status400BadRequest);
            }
            var answer = precept.Submit(body);
            if (answer.DropConnection)
            {
                http.Abort();
                return Results.Empty;
            }
            return Results.Json(answer.Body, statusCode: answer.Status);
        });
        v1.MapGet("/jobs/{id}", (string id, PreceptSimulator precept) =>
            precept.GetJob(id) is { } job ? Results.Json(job) : Results.Json(new { error = "Job not found" }, statusCode: StatusCodes.Status404NotFound));
        v1.MapGet("/jobs", (int? limit, string? name, PreceptSimulator precept) => Results.Json(precept.ListJobs(limit ?? 20, name)));
        v1.MapGet("/credits", (PreceptSimulator precept) => Results.Json(new { credits = precept.Credits }));
        return v1;
    }

    public sealed record SettingsUpdate(
        decimal? Credits, LeadOutcome? DefaultOutcome, int? ProcessingDelayMs, int? ProcessingJitterMs,
        ContactFieldNaming? ContactFieldNaming, int? DuplicateDeliveries, bool? DropWebhooks, string? DefaultWebhookUrl,
        string? UnprocessedFieldName, int? WebhookRetryBaseDelayMs);

    public sealed record OutcomeUpdate(LeadOutcome Outcome);

    public sealed record FaultUpdate(int? FailNextSubmits, int? StatusCode, int? DropConnectionAfterAccept, int? FailNextJobs);

    /// <summary>Test control for a standalone sandbox (in-process tests use <see cref="PreceptSimulator"/> directly).</summary>
    public static RouteGroupBuilder MapPreceptControl(this IEndpointRouteBuilder app)
    {
        var control = app.MapGroup("/sandbox/precept");
        control.MapGet("/counters", (PreceptSimulator precept) => precept.Counters);
        control.MapGet("/jobs", (PreceptSimulator precept) => precept.Jobs);
        control.MapPost("/settings", (SettingsUpdate update, PreceptSimulator precept) =>
        {
            var s = precept.Settings;
            if (update.Credits is { } credits) s.Credits = credits;
            if (update.DefaultOutcome is { } outcome) s.DefaultOutcome = outcome;
            if (update.ProcessingDelayMs is { } delay) s.ProcessingDelay = TimeSpan.FromMilliseconds(delay);
            if (update.ProcessingJitterMs is { } jitter) s.ProcessingJitter = TimeSpan.FromMilliseconds(jitter);
            if (update.ContactFieldNaming is { } naming) s.ContactFieldNaming = naming;
            if (update.DuplicateDeliveries is { } duplicates) s.DuplicateDeliveries = duplicates;
            if (update.DropWebhooks is { } drop) s.DropWebhooks = drop;
            if (update.DefaultWebhookUrl is { } url) s.DefaultWebhookUrl = url;
            if (update.UnprocessedFieldName is { } field) s.UnprocessedFieldName = field;
            if (update.WebhookRetryBaseDelayMs is { } retry) s.WebhookRetryBaseDelay = TimeSpan.FromMilliseconds(retry);
            return Results.Ok(s);
        });
        control.MapPut("/outcomes/{key}", (string key, OutcomeUpdate update, PreceptSimulator precept) =>
        {
            precept.SetOutcome(key, update.Outcome);
            return Results.NoContent();
        });
        control.MapPost("/faults", (FaultUpdate update, PreceptSimulator precept) =>
        {
            if (update.FailNextSubmits is { } submits) precept.FailNextSubmits(submits, update.StatusCode ?? 500);
            if (update.DropConnectionAfterAccept is { } drops) precept.DropConnectionAfterAcceptNext(drops);
            if (update.FailNextJobs is { } failures) precept.FailNextJobs(failures);
            return Results.NoContent();
        });
        return control;
    }
}
