using EnrichmentRelay.Jobs;
using System.Text;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Access;

namespace EnrichmentRelay.Webhooks;

/// <summary>
/// Precept's webhookUrl target. Callbacks are unsigned, so the per-job token in the URL is the only
/// credential; the body is stored as received before we answer, and applied by <see cref="CallbackProcessor"/>.
/// </summary>
public static class PreceptWebhookApi
{
    public const int MaxBodyBytes = 1024 * 1024;
    public const string RateLimitPolicy = "precept-webhooks";
    public const string PathPrefix = WebhookListener.PreceptCallbacks;

    public static RouteGroupBuilder MapPreceptWebhooks(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(PathPrefix).WithTags("Webhooks").RequireRateLimiting(RateLimitPolicy);
        group.MapPost("/{token}", ReceiveAsync)
            .WithSummary("Receives a Precept job callback")
            .WithDescription("The token is the per-job secret the relay put in the job's webhookUrl. The raw body is stored before the 202; " +
                             "unless Providers:Precept:VerifyCallbacks is off, the job is then read back from Precept and that answer is applied. " +
                             "404 for an unknown URL, 410 once its job is complete, 400 for a body that is not JSON (kept for audit), 413 over 1 MiB, " +
                             "429 over the rate limit.")
            .Accepts<JsonElement>("application/json")
            .WithRequestExample("A completed job", """
                {"enrichment_id":"8d5f0c1e-6a2b-4c3d-9e8f-1a2b3c4d5e6f","name":"relay-0ab0b400546640839ac8ab08ea975849","status":"completed",
                 "results":[{"custom_data":{"rid":"5b0c4f9e-2d1a-4c3b-9e8f-7a6b5c4d3e2f"},"enrich_email":["jane.doe@acme.com"],"enrich_phone":["+15550100"]}]}
                """)
            .WithResponseExample(StatusCodes.Status404NotFound, "No job uses this URL", """
                {"type":"https://tools.ietf.org/html/rfc9110#section-15.5.5","title":"Unknown callback URL","status":404,
                 "detail":"No Precept job uses this callback URL."}
                """);
        return group;
    }

    static async Task<Results<Accepted, ProblemHttpResult>> ReceiveAsync(
        string token, HttpRequest request, TimeProvider time, CallbackWriter writer,
        RelayMetrics metrics, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger(typeof(PreceptWebhookApi));
        if (await RequestBodies.ReadBoundedAsync(request, MaxBodyBytes, ct) is not { } bytes)
        {
            metrics.CallbackReceived(ProviderName.Precept, "too_large");
            return TooLarge();
        }

        var text = Encoding.UTF8.GetString(bytes);
        var malformed = !IsJson(bytes, text);
        // Invalid UTF-8 already reads as U+FFFD; a NUL, which PostgreSQL text cannot hold, is stored the same way (a body
        // with one is never valid JSON, so it is kept for audit only).
        var body = text.Contains('\0') ? text.Replace('\0', '\uFFFD') : text;
        // The token is looked up with the other callbacks of the same group commit: one query for all of them.
        var store = await writer.StoreAsync(token, new ProviderCallbackRecord
        {
            ReceivedAt = time.GetUtcNow(),
            Body = body,
            IsMalformed = malformed,
            ProcessedAt = malformed ? time.GetUtcNow() : null,
            // Applying it later continues this request's trace (Precept's own context, if it sent one).
            TraceParent = RelayTracing.CurrentTraceParent(),
        }, ct);
        switch (store.Outcome)
        {
            case CallbackStoreOutcome.UnknownToken:
                metrics.CallbackReceived(ProviderName.Precept, "unknown");
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown callback URL",
                    detail: "No Precept job uses this callback URL.");
            case CallbackStoreOutcome.JobFinished:
                metrics.CallbackReceived(ProviderName.Precept, "gone");
                logger.LogInformation("Callback for finished job {ProviderJobId} refused: its token is spent", store.JobId);
                return TypedResults.Problem(statusCode: StatusCodes.Status410Gone, title: "Job finished",
                    detail: "This Precept job is complete; its callback URL takes no more callbacks.");
        }
        metrics.CallbackReceived(ProviderName.Precept, malformed ? "malformed" : "stored");

        if (malformed)
        {
            logger.LogWarning("Malformed Precept callback for job {ProviderJobId} kept for audit", store.JobId);
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed callback",
                detail: "The body is not valid JSON. It was kept for audit.");
        }
        return TypedResults.Accepted((string?)null);
    }

    static ProblemHttpResult TooLarge() =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Callback too large",
            detail: $"Callback bodies are limited to {MaxBodyBytes} bytes.");

    /// <summary>
    /// Whether the body is one JSON value: read as it came, without building a document (a job's callback is tens of
    /// kilobytes); only bytes that do not read so (a byte-order mark, invalid UTF-8 inside a string) are judged as the
    /// decoded text, which is what gets stored.
    /// </summary>
    internal static bool IsJson(byte[] body, string text)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
            }
            return reader.TokenType != JsonTokenType.None;
        }
        catch (JsonException)
        {
        }
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
