using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EnrichmentRelay.Requests;

/// <summary>The request as <c>GET /enrichments/{requestId}</c> shows it: its state and, once completed, the event's fields.</summary>
public sealed record EnrichmentStatus(
    Guid RequestId,
    string State,
    ProviderName? Provider,
    Outcome? Outcome,
    IReadOnlyList<string> Emails,
    IReadOnlyList<string> Phones,
    string? ProviderJobId,
    string? Detail,
    decimal? CreditsCharged,
    IReadOnlyDictionary<string, string> CorrelationData,
    DateTimeOffset RequestedAt,
    DateTimeOffset? CompletedAt,
    IReadOnlyList<ProviderAttempt> Attempts);

public static class EnrichmentApi
{
    public static RouteGroupBuilder MapEnrichmentApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/enrichments").WithTags("Enrichments");
        group.MapPost("/", SubmitAsync)
            .WithSummary("Requests an enrichment")
            .WithDescription("Same body as the EnrichmentRequested message. requestId is optional and generated when absent; " +
                             "repeating a requestId changes nothing. The result is published as EnrichmentCompleted and readable at the Location.");
        group.MapGet("/{requestId:guid}", GetAsync)
            .WithSummary("Reads a request's state and, once completed, its outcome");
        return group;
    }

    static async Task<Results<Accepted<EnrichmentStatus>, ValidationProblem>> SubmitAsync(
        EnrichmentRequested request, EnrichmentIntake intake, RelayDbContext db, CancellationToken ct)
    {
        if (request.RequestId == Guid.Empty)
            request = request with { RequestId = Guid.NewGuid() };

        var validation = await intake.ValidateAsync(request, ct);
        if (!validation.IsValid)
            return TypedResults.ValidationProblem(validation.ToDictionary());

        await intake.AcceptAsync(request, ct);
        var status = await ReadAsync(db, request.RequestId, ct);
        return TypedResults.Accepted($"/enrichments/{request.RequestId}", status);
    }

    static async Task<Results<Ok<EnrichmentStatus>, NotFound>> GetAsync(Guid requestId, RelayDbContext db, CancellationToken ct) =>
        await ReadAsync(db, requestId, ct) is { } status ? TypedResults.Ok(status) : TypedResults.NotFound();

    static async Task<EnrichmentStatus?> ReadAsync(RelayDbContext db, Guid requestId, CancellationToken ct)
    {
        var record = await db.Requests.AsNoTracking().Include(r => r.ProviderJob).SingleOrDefaultAsync(r => r.RequestId == requestId, ct);
        if (record is null)
            return null;
        var request = LedgerViews.ReadRequest(record);
        return new EnrichmentStatus(
            record.RequestId,
            State: record.State.ToString().ToLowerInvariant(),
            record.Provider,
            record.Outcome,
            LedgerViews.ReadList(record.EmailsJson),
            LedgerViews.ReadList(record.PhonesJson),
            record.ProviderJob?.ExternalId,
            record.Detail,
            record.CreditsCharged,
            request.CorrelationData ?? new Dictionary<string, string>(),
            record.AcceptedAt,
            record.CompletedAt,
            LedgerViews.Attempts(record, record.ProviderJob));
    }
}

public static class RequestsExtensions
{
    public static IHostApplicationBuilder AddEnrichmentRequests(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<RequestRouting>();
        builder.Services.AddScoped<FluentValidation.IValidator<EnrichmentRequested>, EnrichmentRequestedValidator>();
        builder.Services.AddScoped<EnrichmentIntake>();
        return builder;
    }
}
