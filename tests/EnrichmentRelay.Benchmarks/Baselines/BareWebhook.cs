namespace EnrichmentRelay.Benchmarks.Baselines;

/// <summary>
/// The webhook baseline: a Kestrel app built the way the relay is (WebApplication.CreateBuilder, same defaults),
/// answering 202 to the same route after reading the body, storing nothing. What HTTP alone costs here.
/// </summary>
public static class BareWebhook
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        var app = builder.Build();
        app.MapPost("/webhooks/precept/{token}", async (string token, HttpRequest request, CancellationToken ct) =>
        {
            // Read it all, as the relay must before it can store it.
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, ct);
            return TypedResults.Accepted((string?)null);
        });
        app.MapGet("/ready", () => TypedResults.Ok());
        await app.RunAsync();
        return 0;
    }
}
