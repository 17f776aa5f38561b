using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Sandbox.Lance;

/// <summary>
/// Test control for a standalone sandbox, no auth (in-process tests use <see cref="LanceSimulator"/> directly).
/// JSON is camelCase with enums as camelCase strings; durations are whole milliseconds.
/// </summary>
public static class LanceControlApi
{
    /// <summary>
    /// A partial update: null or absent leaves a setting as it is. <c>documentedOnly: true</c> applies
    /// <see cref="LanceSettings.UseDocumentedOnly"/> first; the other fields then apply on top.
    /// </summary>
    public sealed record SettingsUpdate(
        decimal? Credits,
        long? ProcessingDelayMs,
        LanceOutcome? DefaultOutcome,
        bool? PreexistingContacts,
        bool? DocumentedOnly = null,
        LanceCharging? Charging = null,
        LanceErrorBody? ErrorBody = null,
        LanceQueryOrder? QueryOrder = null,
        bool? QueryReturnsEveryRecord = null,
        LanceIdFormat? RecordIds = null,
        int? UnknownPersonReadStatus = null,
        LanceUnknownIds? UnknownIds = null, PopulationUpdate? Population = null)
    {
        public void ApplyTo(LanceSettings s)
        {
            if (Population is { } population) s.Population = population.ToFoundShare();
            if (DocumentedOnly == true) s.UseDocumentedOnly();
            if (Credits is { } credits) s.Credits = credits;
            if (ProcessingDelayMs is { } delay) s.ProcessingDelay = TimeSpan.FromMilliseconds(delay);
            if (DefaultOutcome is { } outcome) s.DefaultOutcome = outcome;
            if (PreexistingContacts is { } preexisting) s.PreexistingContacts = preexisting;
            if (Charging is { } charging) s.Charging = charging;
            if (ErrorBody is { } errorBody) s.ErrorBody = errorBody;
            if (QueryOrder is { } queryOrder) s.QueryOrder = queryOrder;
            if (QueryReturnsEveryRecord is { } everyRecord) s.QueryReturnsEveryRecord = everyRecord;
            if (RecordIds is { } recordIds) s.RecordIds = recordIds;
            if (UnknownPersonReadStatus is { } status) s.UnknownPersonReadStatus = status;
            if (UnknownIds is { } unknownIds) s.UnknownIds = unknownIds;
        }
    }

    public sealed record SettingsView(
        decimal Credits,
        long ProcessingDelayMs,
        LanceOutcome DefaultOutcome,
        bool PreexistingContacts,
        LanceCharging Charging,
        LanceErrorBody ErrorBody,
        LanceQueryOrder QueryOrder,
        bool QueryReturnsEveryRecord,
        LanceIdFormat RecordIds,
        int UnknownPersonReadStatus,
        LanceUnknownIds UnknownIds, FoundShare? Population)
    {
        public static SettingsView Of(LanceSettings s) =>
            new(s.Credits, (long)s.ProcessingDelay.TotalMilliseconds, s.DefaultOutcome, s.PreexistingContacts, s.Charging, s.ErrorBody,
                s.QueryOrder, s.QueryReturnsEveryRecord, s.RecordIds, s.UnknownPersonReadStatus, s.UnknownIds, s.Population);
    }

    public sealed record OutcomeUpdate(LanceOutcome? Outcome);

    public sealed record PersonAdd(string? Id, string? FirstName, string? LastName);

    /// <summary>
    /// <c>failNextSubmits</c> with <c>statusCode</c> (400-599, default 500) fails the next bulk submits;
    /// <c>dropConnectionAfterAccept</c> carries out the next bulk submits but cuts the connection instead of answering.
    /// </summary>
    public sealed record FaultUpdate(int? FailNextSubmits, int? StatusCode, int? DropConnectionAfterAccept = null);

    /// <summary>The next <c>count</c> reads of the person answer <c>statusCode</c> (400-599, default 500).</summary>
    public sealed record PersonReadFault(int? Count, int? StatusCode);

    public static RouteGroupBuilder MapLanceControl(this IEndpointRouteBuilder app)
    {
        var control = app.MapGroup("/sandbox/lance");

        control.MapGet("/counters", (LanceSimulator lance) => TypedResults.Json(lance.Counters, ControlJson.Options));
        control.MapGet("/enrichments", (LanceSimulator lance) => TypedResults.Json(lance.Enrichments, ControlJson.Options));

        control.MapPost("/settings", async Task<Results<JsonHttpResult<SettingsView>, ValidationProblem>> (HttpRequest request, LanceSimulator lance) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<SettingsUpdate>(request);
            if (update?.ProcessingDelayMs < 0)
                problems["processingDelayMs"] = ["Must be 0 or more."];
            if (update?.UnknownPersonReadStatus is not (null or 400 or 404))
                problems["unknownPersonReadStatus"] = ["Must be 400 or 404."];
            if (update?.Population is { IsValid: false })
                problems["population"] = ["share must be 0 to 1 (absent: off)."];
            if (update is null || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            update.ApplyTo(lance.Settings);
            return TypedResults.Json(SettingsView.Of(lance.Settings), ControlJson.Options);
        });

        control.MapPut("/persons/{id}/outcomes/{field}", async Task<Results<NoContent, ValidationProblem>> (string id, string field, HttpRequest request, LanceSimulator lance) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<OutcomeUpdate>(request);
            if (update is { Outcome: null })
                problems["outcome"] = ["Required: found, notFound, failed, timeout, cancelled or omitted."];
            if (field is not ("emails" or "phones"))
                problems["field"] = ["Must be emails or phones."];
            if (update?.Outcome is not { } outcome || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            lance.SetOutcome(id, field, outcome);
            return TypedResults.NoContent();
        });

        control.MapPost("/persons", async Task<Results<JsonHttpResult<JsonObject>, ValidationProblem>> (HttpRequest request, LanceSimulator lance) =>
        {
            var (add, problems) = await ControlJson.ReadAsync<PersonAdd>(request);
            if (add is not null && !Guid.TryParseExact(add.Id, "D", out _))
                problems["id"] = ["Required: a uuid."];
            if (add?.Id is not { } id || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            lance.AddPerson(id, add.FirstName, add.LastName);
            return TypedResults.Json(lance.PersonJson(id)!, ControlJson.Options, statusCode: StatusCodes.Status201Created);
        });

        control.MapPost("/persons/{id}/invalid", (string id, LanceSimulator lance) =>
        {
            lance.MarkInvalid(id);
            return TypedResults.NoContent();
        });

        control.MapPost("/persons/{id}/read-faults", async Task<Results<NoContent, ValidationProblem>> (string id, HttpRequest request, LanceSimulator lance) =>
        {
            var (fault, problems) = await ControlJson.ReadAsync<PersonReadFault>(request);
            if (fault is { Count: null or < 0 })
                problems["count"] = ["Required: 0 or more."];
            if (fault?.StatusCode is < 400 or > 599)
                problems["statusCode"] = ["Must be an error status, 400 to 599."];
            if (fault?.Count is not { } count || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            lance.FailPersonReads(id, count, fault.StatusCode ?? 500);
            return TypedResults.NoContent();
        });

        control.MapPost("/faults", async Task<Results<NoContent, ValidationProblem>> (HttpRequest request, LanceSimulator lance) =>
        {
            var (update, problems) = await ControlJson.ReadAsync<FaultUpdate>(request);
            if (update?.FailNextSubmits < 0)
                problems["failNextSubmits"] = ["Must be 0 or more."];
            if (update?.DropConnectionAfterAccept < 0)
                problems["dropConnectionAfterAccept"] = ["Must be 0 or more."];
            if (update?.StatusCode is < 400 or > 599)
                problems["statusCode"] = ["Must be an error status, 400 to 599."];
            if (update is null || problems.Count > 0)
                return TypedResults.ValidationProblem(problems);
            if (update.FailNextSubmits is { } submits)
                lance.FailNextSubmits(submits, update.StatusCode ?? 500);
            if (update.DropConnectionAfterAccept is { } drops)
                lance.DropConnectionAfterAcceptNext(drops);
            return TypedResults.NoContent();
        });
        return control;
    }
}
