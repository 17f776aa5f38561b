using EnrichmentRelay.Access;
using System.Reflection;
using EnrichmentRelay.Messaging;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EnrichmentRelay.Operations;

public static class OperationsExtensions
{
    /// <summary>MassTransit 8's ActivitySource and Meter (its send, receive and consume spans and counters).</summary>
    const string MassTransitInstrumentation = "MassTransit";

    /// <summary>Set (e.g. <c>http://collector:4317</c>) to export traces, metrics and logs over OTLP.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IHostApplicationBuilder AddOperations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.Services.AddApiDocs();

        builder.Services.AddSingleton<RelayMetrics>();
        builder.Services.AddHostedService<LedgerGaugeSampler>();

        var telemetry = builder.Services.AddOpenTelemetry()
            // service.version: the release's version (Directory.Build.props), the same as the image tag and the contracts package.
            .ConfigureResource(resource => resource.AddService("enrichment-relay", serviceVersion: ReleaseVersion))
            .WithMetrics(metrics => metrics
                .AddMeter(RelayMetrics.MeterName, MassTransitInstrumentation)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter())
            // Traces are recorded even without an exporter, so a producer's trace context still reaches the
            // subscribers of EnrichmentCompleted through the relay.
            .WithTracing(tracing => tracing
                .AddSource(RelayTracing.SourceName, MassTransitInstrumentation)
                // PostgreSQL commands as spans of the work that issued them (SQLite has no instrumentation).
                .AddNpgsql()
                .AddAspNetCoreInstrumentation(http =>
                {
                    http.Filter = context => !IsOperational(context.Request.Path);
                    // The webhook path carries the per-job secret: spans get the route template instead.
                    http.EnrichWithHttpRequest = (activity, request) =>
                    {
                        if (request.Path.StartsWithSegments(WebhookPathPrefix))
                            activity.SetTag("url.path", WebhookPathPrefix + "/{token}");
                    };
                })
                .AddHttpClientInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]))
            telemetry.UseOtlpExporter();
        return builder;
    }

    const string WebhookPathPrefix = Webhooks.PreceptWebhookApi.PathPrefix;

    static readonly string? ReleaseVersion = typeof(OperationsExtensions).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    /// <summary>The overall status and each check's, with its description (which provider is paused, and why).</summary>
    static Task WriteHealthAsync(HttpContext context, Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }));
    }

    static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || path.StartsWithSegments(ApiDocs.ReferencePath)
        || path.StartsWithSegments(AsyncApiDocument.Path);

    /// <summary>/health/live (the process answers), /health/ready (ledger and bus), /metrics, /openapi/v1.json, /scalar and /asyncapi.json.</summary>
    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        // Degraded (a provider paused) still answers 200: the relay works for the other providers and keeps its webhook.
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = WriteHealthAsync });
        app.MapPrometheusScrapingEndpoint().RequireClientKey();
        app.MapApiDocs();
        app.MapAsyncApi();
        return app;
    }
}
