namespace EnrichmentRelay.Hosting;

/// <summary>An example body for an endpoint's OpenAPI document: the request's (no status) or a response's.</summary>
public sealed record OpenApiExampleMetadata(int? StatusCode, string Summary, string Json);

/// <summary>Examples declared beside each route, for the OpenAPI document the operations feature serves.</summary>
public static class ApiExamples
{
    public static TBuilder WithRequestExample<TBuilder>(this TBuilder builder, string summary, string json) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OpenApiExampleMetadata(null, summary, json));

    public static TBuilder WithResponseExample<TBuilder>(this TBuilder builder, int statusCode, string summary, string json)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OpenApiExampleMetadata(statusCode, summary, json));
}
