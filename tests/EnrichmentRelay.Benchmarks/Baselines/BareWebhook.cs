namespace EnrichmentRelay.Benchmarks.Baselines;

/// <summary>
/// The webhook baselines: a Kestrel app built the way the relay is (WebApplication.CreateBuilder, same defaults),
/// answering 202 to the same route after reading the body. Plain, it stores nothing: what HTTP alone costs here.
/// With <c>--append-to FILE</c> each body is appended to that one file and fsynced before its 202, one body at a
/// time: the floor for a webhook that keeps what it acknowledges (issue #18).
/// </summary>
public static class BareWebhook
{
    public const string AppendTo = "append-to";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        var app = builder.Build();
        await using var file = app.Configuration[AppendTo] is { Length: > 0 } path
            ? new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)
            : null;
        // One writer at a time, so each fsync covers exactly one body (no group commit).
        using var writing = new SemaphoreSlim(1, 1);
        app.MapPost("/webhooks/precept/{token}", async (string token, HttpRequest request, CancellationToken ct) =>
        {
            // Read it all, as the relay must before it can store it.
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, ct);
            if (file is not null)
            {
                buffer.WriteByte((byte)'\n');
                await writing.WaitAsync(ct);
                try
                {
                    file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                    file.Flush(flushToDisk: true);
                }
                finally
                {
                    writing.Release();
                }
            }
            return TypedResults.Accepted((string?)null);
        });
        app.MapGet("/ready", () => TypedResults.Ok());
        await app.RunAsync();
        return 0;
    }
}
