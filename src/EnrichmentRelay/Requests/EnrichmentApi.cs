using MassTransit;
using EnrichmentRelay.Access;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Messaging;

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
    IReadOnlyList<ProviderAttempt> Attempts,
    IReadOnlyList<FoundContact> Contacts,
    IReadOnlyList<SkippedProvider> Skipped);

public static class EnrichmentApi
{
    public static RouteGroupBuilder MapEnrichmentApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/enrichments").WithTags("Enrichments").RequireClientKey();
        group.MapPost("/", SubmitAsync)
            .Accepts<EnrichmentRequested>("application/json")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Requests an enrichment")
            .WithDescription("Same body as the EnrichmentRequested message. requestId is optional and generated when absent; " +
                             "repeating a requestId changes nothing. The result is published as EnrichmentCompleted and readable at the Location.")
            .WithRequestExample("A lead for Precept, by name and company", """
                {"lead":{"firstName":"Jane","lastName":"Doe","companyName":"Acme","companyDomain":"acme.com"},
                 "fields":["email","phone"],"correlationData":{"crmId":"0031t00000AbCdE"}}
                """)
            .WithRequestExample("A Woodpecker Lead Finder lead", """
                {"requestId":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11","lead":{"woodpeckerLead":{"uid":"0SVOUN5zYlkzJ5fMrBxUdiQ_0000",
                 "first_name":"Erlich","last_name":"Bachman","company_website":"bachmanity.com"}},"fields":["email"]}
                """)
            .WithRequestExample("A Lance person", """
                {"lead":{"lancePersonId":"550e8400-e29b-41d4-a716-446655440001"},"fields":["email","phone"]}
                """)
            .WithResponseExample(StatusCodes.Status202Accepted, "Stored; the outcome follows", """
                {"requestId":"5b0c4f9e-2d1a-4c3b-9e8f-7a6b5c4d3e2f","state":"accepted","provider":"precept","outcome":null,
                 "emails":[],"phones":[],"providerJobId":null,"detail":null,"creditsCharged":null,
                 "correlationData":{"crmId":"0031t00000AbCdE"},"requestedAt":"2026-11-23T09:00:00+00:00","completedAt":null,"attempts":[]}
                """)
            .WithResponseExample(StatusCodes.Status400BadRequest, "A body that does not fit the contract, by JSON path", """
                {"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"The body could not be read.","status":400,
                 "errors":{"fields[0]":["'fields[0]' must be one of: email, phone."]}}
                """)
            .WithResponseExample(StatusCodes.Status400BadRequest, "Every problem, by field", """
                {"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,
                 "errors":{"fields":["'fields' must name at least one of: email, phone."],
                           "lead":["No enabled provider can identify this lead: Precept needs lead.linkedInUrl, or lead.firstName + lead.lastName + lead.companyName or lead.companyDomain."]}}
                """);
        group.MapGet("/{requestId:guid}", GetAsync)
            .WithSummary("Reads a request's state and, once completed, its outcome")
            .WithDescription("state is accepted (waiting for its batch), submitted (at the provider) or completed; once completed, " +
                             "the fields are those of the EnrichmentCompleted event. 404 for a requestId the relay never received.")
            .WithResponseExample(StatusCodes.Status200OK, "Completed: found", """
                {"requestId":"5b0c4f9e-2d1a-4c3b-9e8f-7a6b5c4d3e2f","state":"completed","provider":"precept","outcome":"found",
                 "emails":["jane.doe@acme.com"],"phones":["+15550100"],"providerJobId":"8d5f0c1e-6a2b-4c3d-9e8f-1a2b3c4d5e6f","detail":null,
                 "creditsCharged":null,"correlationData":{"crmId":"0031t00000AbCdE"},"requestedAt":"2026-11-23T09:00:00+00:00",
                 "completedAt":"2026-11-23T09:00:03+00:00","attempts":[{"provider":"precept","outcome":"found",
                 "providerJobId":"8d5f0c1e-6a2b-4c3d-9e8f-1a2b3c4d5e6f","submittedAt":"2026-11-23T09:00:02+00:00",
                 "completedAt":"2026-11-23T09:00:03+00:00","detail":null}]}
                """);
        return group;
    }

    static async Task<Results<Accepted<EnrichmentStatus>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpRequest http, EnrichmentIntake intake, RelayDbContext db, IOptions<RelayOptions> relay, CancellationToken ct)
    {
        var (request, unreadable) = await RequestBodies.ReadJsonAsync<EnrichmentRequested>(http, relay.Value.MaxIntakeBodyBytes, ct);
        if (request is null)
            return unreadable!;
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
        var attempts = await db.Attempts.AsNoTracking().Where(a => a.RequestId == requestId).ToListAsync(ct);
        return new EnrichmentStatus(
            record.RequestId,
            // A request waiting for an identical one in flight is, to its caller, accepted: the states callers know stay three.
            State: (record.State == RequestState.Following ? RequestState.Accepted : record.State).ToString().ToLowerInvariant(),
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
            LedgerViews.Attempts(attempts),
            record.State == RequestState.Completed ? LedgerViews.Contacts(record, attempts) : [],
            LedgerViews.ReadSkipped(record.SkippedJson));
    }
}

public static class RequestsExtensions
{
    public static IHostApplicationBuilder AddEnrichmentRequests(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<FluentValidation.IValidator<EnrichmentRequested>, EnrichmentRequestedValidator>();
        builder.Services.AddScoped<EnrichmentIntake>();
        builder.AddBusConsumers((bus, options) => bus.AddConsumer<EnrichmentRequestedConsumer, EnrichmentRequestedConsumerDefinition>()
            .Endpoint(e =>
            {
                // Named here too: endpoint settings without a name declare a second, unbound queue ("EnrichmentRequested").
                e.Name = EnrichmentRequestedConsumerDefinition.QueueName;
                e.ConcurrentMessageLimit = options.ConcurrentMessageLimit;
            }));
        return builder;
    }
}
