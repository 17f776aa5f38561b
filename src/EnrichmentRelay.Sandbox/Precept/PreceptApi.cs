using System.Text;

namespace EnrichmentRelay.Sandbox.Precept;

public static class PreceptApi
{
    /// <summary>The vendor's routes, with its paths, field names and status codes (providers.md §2.2).</summary>
    public static RouteGroupBuilder MapPreceptApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        // Every route needs the account's bearer key, checked before the request is looked at.
        v1.AddEndpointFilter(async (context, next) =>
            context.HttpContext.RequestServices.GetRequiredService<PreceptSimulator>().IsAuthorized(context.HttpContext.Request.Headers.Authorization)
                ? await next(context)
                : Error(StatusCodes.Status401Unauthorized, "Unauthorized"));

        v1.MapPost("/leads/enrich", StartEnrichmentAsync);
        v1.MapGet("/jobs/{id}", (string id, PreceptSimulator precept) =>
            precept.ReadFails(id) ? Error(StatusCodes.Status500InternalServerError, "Internal error")
            : precept.GetJob(id) is { } job ? Results.Json(job) : Error(StatusCodes.Status404NotFound, "Job not found"));
        // limit is read by hand: a bound int? fails a bad value in the framework, without Precept's error shape.
        v1.MapGet("/jobs", (HttpRequest request, PreceptSimulator precept) =>
        {
            var limit = 20;
            if (request.Query["limit"].FirstOrDefault() is { } text && !int.TryParse(text, out limit))
                return Error(StatusCodes.Status400BadRequest, "limit must be a number.");
            var page = 1;
            if (request.Query["page"].FirstOrDefault() is { } pageText && !int.TryParse(pageText, out page))
                return Error(StatusCodes.Status400BadRequest, "page must be a number.");
            return Results.Json(precept.ListJobs(limit, request.Query["name"].FirstOrDefault(), page));
        });
        v1.MapGet("/credits", (PreceptSimulator precept) => Results.Json(new { credits = precept.AvailableCredits }));
        return v1;
    }

    static async Task<IResult> StartEnrichmentAsync(HttpContext http, PreceptSimulator precept)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var answer = precept.Submit(await reader.ReadToEndAsync(http.RequestAborted));
        if (answer.Latency > TimeSpan.Zero)
            await Task.Delay(answer.Latency, precept.Time, http.RequestAborted);
        if (answer.DropConnection)
        {
            // The job exists and is charged, but the client never hears of it.
            http.Abort();
            return Results.Empty;
        }
        return Results.Json(answer.Body, statusCode: answer.Status);
    }

    static IResult Error(int status, string message) => Results.Json(new { error = message }, statusCode: status);
}
