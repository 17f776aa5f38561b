using EnrichmentRelay.Access;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Operations;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Providers.Lance;

public sealed record SelectionStatus(Guid SelectionId, string State, int Selected, Outcome? Refused, string? Detail,
    DateTimeOffset RequestedAt, DateTimeOffset? CompletedAt);

public static class SelectionsApi
{
    public static RouteGroupBuilder MapSelectionsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/selections").WithTags("Selections").RequireClientKey();
        if (!app.ServiceProvider.GetRequiredService<IConfiguration>().GetValue(LanceOptions.Section + ":Enabled", true))
        {
            group.MapPost("/", () => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Lance is not enabled",
                detail: "Selections are a Lance feature; this relay runs with Providers:Lance:Enabled=false."))
                .WithSummary("Selections are a Lance feature: Lance is disabled on this relay (404)");
            return group;
        }
        group.MapPost("/", SubmitAsync)
            .Accepts<SelectionEnrichmentRequested>("application/json")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Enriches the people a Lance search selects")
            .WithDescription("Same body as the SelectionEnrichmentRequested message (selectionId optional). Each selected person gets " +
                             "an EnrichmentCompleted (RequestId derived from selection and person), then one SelectionEnrichmentCompleted.")
            .WithRequestExample("The first 100 VPs of a Lance search", """
                {"selectionId":"7c9e6679-7425-40de-944b-e07fc1f90ae7",
                 "filters":{"contact":{"contact.seniority":{"any":{"include":["VP"]}}}},
                 "startIndex":0,"targetCount":100,"excludedIds":[],"field":"email","correlationData":{"campaign":"vp-q4"}}
                """)
            .WithResponseExample(StatusCodes.Status400BadRequest, "Every problem, by field", """
                {"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,
                 "errors":{"targetCount":["'targetCount' must be between 1 and 1000."]}}
                """);
        group.MapGet("/{selectionId:guid}", GetAsync)
            .WithSummary("Reads a selection's state")
            .WithDescription("state is accepted, submitted (Lance selected the persons; their requests are open) or completed " +
                             "(the SelectionEnrichmentCompleted is published); refused and detail say why Lance refused it.")
            .WithResponseExample(StatusCodes.Status200OK, "Submitted: 100 persons selected", """
                {"selectionId":"7c9e6679-7425-40de-944b-e07fc1f90ae7","state":"submitted","selected":100,"refused":null,"detail":null,
                 "requestedAt":"2026-11-23T09:00:00+00:00","completedAt":null}
                """);
        return group;
    }

    static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> SubmitAsync(HttpRequest http, LanceSelections selections,
        IPublishEndpoint bus, IOptions<RelayOptions> relay, CancellationToken ct)
    {
        var (selection, unreadable) = await RequestBodies.ReadJsonAsync<SelectionEnrichmentRequested>(http, relay.Value.MaxIntakeBodyBytes, ct);
        if (selection is null)
            return unreadable!;
        if (selection.SelectionId == Guid.Empty)
            selection = selection with { SelectionId = Guid.NewGuid() };
        var validation = await selections.ValidateAsync(selection, ct);
        if (!validation.IsValid)
            return TypedResults.ValidationProblem(validation.ToDictionary());
        // Through the bus, so HTTP and bus selections take one path (and the consumer's retries).
        await bus.Publish(selection, ct);
        return TypedResults.Accepted($"/selections/{selection.SelectionId}");
    }

    static async Task<Results<Ok<SelectionStatus>, NotFound>> GetAsync(Guid selectionId, RelayDbContext db, CancellationToken ct)
    {
        var row = await db.Selections.AsNoTracking().SingleOrDefaultAsync(s => s.SelectionId == selectionId, ct);
        return row is null
            ? TypedResults.NotFound()
            : TypedResults.Ok(new SelectionStatus(row.SelectionId, row.State.ToString().ToLowerInvariant(), row.Selected, row.Refused,
                row.Detail, row.AcceptedAt, row.CompletedAt));
    }
}
