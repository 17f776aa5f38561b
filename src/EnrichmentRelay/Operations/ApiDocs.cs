using System.Text.Json.Nodes;
using EnrichmentRelay.Access;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace EnrichmentRelay.Operations;

/// <summary>
/// The OpenAPI document (<c>/openapi/v1.json</c>) and its browsable reference (<c>/scalar</c>). Examples are
/// declared beside each route with <see cref="ApiExamples.WithRequestExample"/> and <see cref="ApiExamples.WithResponseExample"/>;
/// the health and metrics endpoints, which are not minimal-API handlers, are described here.
/// </summary>
public static class ApiDocs
{
    public const string ReferencePath = "/scalar";

    public static IServiceCollection AddApiDocs(this IServiceCollection services) => services.AddOpenApi(options =>
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "EnrichmentRelay";
            document.Info.Description = "Contact enrichment through Precept, Woodpecker and Lance: submit a lead, read its outcome. " +
                                        "The same requests and results travel on RabbitMQ (EnrichmentRequested / EnrichmentCompleted).";
            document.Paths ??= new OpenApiPaths();
            AddOperationalPaths(document.Paths);
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            foreach (var example in context.Description.ActionDescriptor.EndpointMetadata.OfType<OpenApiExampleMetadata>())
                Apply(operation, example);
            return Task.CompletedTask;
        });
    });

    /// <summary>The reference UI, served with its bundled script: nothing is loaded from a CDN.</summary>
    public static IEndpointRouteBuilder MapApiDocs(this IEndpointRouteBuilder app)
    {
        // What the routes are is no secret, but the document is part of the API: behind the client key like it.
        app.MapOpenApi().RequireClientKey();
        app.MapScalarApiReference(ReferencePath, options => options
            .WithTitle("EnrichmentRelay API")
            // The default fonts come from Scalar's CDN; the system fonts keep the page working offline.
            .DisableDefaultFonts()).RequireClientKey();
        return app;
    }

    static void Apply(OpenApiOperation operation, OpenApiExampleMetadata example)
    {
        IDictionary<string, OpenApiMediaType>? content;
        if (example.StatusCode is { } status)
        {
            operation.Responses ??= new OpenApiResponses();
            if (!operation.Responses.TryGetValue(status.ToString(), out var response))
                operation.Responses[status.ToString()] = response = new OpenApiResponse { Description = example.Summary };
            content = response.Content;
            if (content is null && response is OpenApiResponse concrete)
                content = concrete.Content = new Dictionary<string, OpenApiMediaType>();
        }
        else
        {
            operation.RequestBody ??= new OpenApiRequestBody { Required = true };
            content = operation.RequestBody.Content;
            if (content is null && operation.RequestBody is OpenApiRequestBody concrete)
                content = concrete.Content = new Dictionary<string, OpenApiMediaType>();
        }
        if (content is null)
            return;
        var mediaType = example.StatusCode is >= 400 ? "application/problem+json" : "application/json";
        if (content.Count == 0)
            content[mediaType] = new OpenApiMediaType();
        foreach (var media in content.Values)
        {
            media.Examples ??= new Dictionary<string, IOpenApiExample>();
            media.Examples[Key(example.Summary)] = new OpenApiExample { Summary = example.Summary, Value = JsonNode.Parse(example.Json) };
        }
    }

    static string Key(string summary) =>
        string.Join('-', summary.ToLowerInvariant().Split(summary.Where(c => !char.IsAsciiLetterOrDigit(c)).Distinct().ToArray(),
            StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Health checks and the Prometheus endpoint are mapped without handlers the generator can read.</summary>
    static void AddOperationalPaths(OpenApiPaths paths)
    {
        paths["/health/live"] = TextGet("Operations", "Liveness: the process answers",
            "200 Healthy whenever the process can serve HTTP; checks nothing else. For a container's liveness probe.",
            "Healthy");
        paths["/health/ready"] = TextGet("Operations", "Readiness: the ledger and the bus are reachable",
            "200 Healthy when the database answers and the bus is connected; 503 Unhealthy otherwise. For a load balancer or readiness probe.",
            "Healthy", unhealthy: true);
        paths["/metrics"] = TextGet("Operations", "Metrics in Prometheus text format",
            "The relay's own metrics (relay_*), MassTransit's, ASP.NET Core's, HttpClient's and the .NET runtime's. See docs/operations.md for the list.",
            "# TYPE relay_requests_completed_total counter\nrelay_requests_completed_total{outcome=\"found\",provider=\"precept\"} 42\n");
    }

    static OpenApiPathItem TextGet(string tag, string summary, string description, string example, bool unhealthy = false)
    {
        OpenApiResponse Text(string what, string body) => new()
        {
            Description = what,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["text/plain"] = new()
                {
                    Examples = new Dictionary<string, IOpenApiExample> { ["example"] = new OpenApiExample { Summary = what, Value = JsonValue.Create(body) } },
                },
            },
        };
        var responses = new OpenApiResponses { ["200"] = Text("OK", example) };
        if (unhealthy)
            responses["503"] = Text("Not ready", "Unhealthy");
        return new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = new()
                {
                    Summary = summary,
                    Description = description,
                    Tags = new HashSet<OpenApiTagReference> { new(tag) },
                    Responses = responses,
                },
            },
        };
    }
}
