using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Providers.Lance;

public sealed record SelectionStatus(Guid SelectionId, string State, int Selected, Outcome? Refused, string? Detail,
    DateTimeOffset RequestedAt, DateTimeOffset? CompletedAt);

public static class SelectionsApi
{
    public static RouteGroupBuilder MapSelectionsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/selections").WithTags("Selections");
        if (!app.ServiceProvider.GetRequiredService<IConfiguration>().GetValue(LanceOptions.Section + ":Enabled", true))
        {
            group.MapPost("/", () => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Lance is not enabled",
                detail: "Selections are a Lance feature; this relay runs with Providers:Lance:Enabled=false."));
            return group;
        }
        group.MapPost("/", SubmitAsync)
            .WithSummary("Enriches the people a Lance search selects")
            .WithDescription("Same body as the SelectionEnrichmentRequested message (selectionId optional). Each selected person gets " +
                             "an EnrichmentCompleted (RequestId derived from selection and person), then one SelectionEnrichmentCompleted.");
        group.MapGet("/{selectionId:guid}", GetAsync).WithSummary("Reads a selection's state");
        return group;
    }

    static async Task<Results<Accepted, ValidationProblem>> SubmitAsync(SelectionEnrichmentRequested selection, LanceSelections selections,
        IPublishEndpoint bus, CancellationToken ct)
    {
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
