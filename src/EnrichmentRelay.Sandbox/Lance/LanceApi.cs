using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Lance;

public static class LanceApi
{
    /// <summary>The vendor's routes under <c>/api/v1</c> (any host name), with its paths, field names and status codes.</summary>
    public static RouteGroupBuilder MapLanceApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var lance = http.RequestServices.GetRequiredService<LanceSimulator>();
            if (!lance.IsAuthorized(http.Request.Headers.Authorization.FirstOrDefault()))
                return Answer(lance.Error(StatusCodes.Status401Unauthorized, "UNAUTHORIZED", "Missing or invalid authentication."));
            return await next(context);
        });

        api.MapPost("/operations/enrichment/bulk", async (HttpContext http, LanceSimulator lance) =>
            await ReadBody(http) is (var body, true) ? Answer(lance.SubmitBulk(body), http) : Malformed(lance));
        api.MapPost("/operations/enrichment/batch/query", async (HttpContext http, LanceSimulator lance) =>
            await ReadBody(http) is (var body, true) ? Answer(lance.QueryBatch(body)) : Malformed(lance));
        api.MapGet("/entities/prospects/person/{id}", (string id, LanceSimulator lance) => Answer(lance.ReadPerson(id)));
        return api;
    }

    /// <summary>The body as JSON; null for an empty body; Ok false when it is not JSON.</summary>
    static async Task<(JsonNode? Body, bool Ok)> ReadBody(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted);
        if (string.IsNullOrWhiteSpace(text))
            return (null, true);
        try
        {
            return (JsonNode.Parse(text), true);
        }
        catch (JsonException)
        {
            return (null, false);
        }
    }

    static IResult Malformed(LanceSimulator lance) => Answer(lance.Invalid("Malformed JSON body."));

    static IResult Answer(LanceAnswer answer) => answer.Text is { } text
        ? Results.Text(text, "text/plain", statusCode: answer.Status)
        : Results.Json(answer.Body, statusCode: answer.Status);

    static IResult Answer(LanceAnswer answer, HttpContext http)
    {
        if (!answer.DropConnection)
            return Answer(answer);
        // Done and charged, but the client never hears of it.
        http.Abort();
        return Results.Empty;
    }
}
