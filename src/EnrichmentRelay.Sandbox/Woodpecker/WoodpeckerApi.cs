using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Woodpecker;

public static class WoodpeckerApi
{
    /// <summary>The vendor's routes under <c>/rest</c>, with its paths, field names and status codes.</summary>
    public static RouteGroupBuilder MapWoodpeckerApi(this IEndpointRouteBuilder app)
    {
        var rest = app.MapGroup("/rest");
        rest.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var woodpecker = http.RequestServices.GetRequiredService<WoodpeckerSimulator>();
            if (!woodpecker.IsAuthorized(http.Request.Headers["x-api-key"].FirstOrDefault()))
                return Answer(woodpecker.Error(StatusCodes.Status401Unauthorized, "Invalid api key"), http);

            // One request processed at a time per key; a few may wait, the rest are dropped (providers.md §1.2).
            var lease = await woodpecker.EnterAsync(http.RequestAborted);
            if (lease is null)
            {
                var status = woodpecker.Settings.TooManyRequestsStatus;
                var dropped = woodpecker.Error(status, "Too many simultaneous requests. Only one request is processed at a time.");
                dropped.Body!["title"] = "Too Many Requests";
                return Answer(dropped, http);
            }
            await using (lease)
                return await next(context);
        });

        var v2 = rest.MapGroup("/v2/lead_finder");
        v2.MapPost("/leads/enrichments", async (HttpContext http, WoodpeckerSimulator woodpecker) =>
            await ReadBody(http) is (var body, null) ? Answer(woodpecker.SubmitLeads(body), http) : Malformed(woodpecker, http));
        v2.MapGet("/leads/enrichments", (HttpContext http, WoodpeckerSimulator woodpecker) =>
            Answer(woodpecker.ListLeadEnrichments(http.Request.Query["created_after"].FirstOrDefault()), http));
        v2.MapGet("/leads/enrichments/{uuid}", (string uuid, HttpContext http, WoodpeckerSimulator woodpecker) =>
            Answer(woodpecker.GetLeadEnrichment(uuid), http));
        v2.MapPost("/prospects/enrichments", async (HttpContext http, WoodpeckerSimulator woodpecker) =>
            await ReadBody(http) is (var body, null) ? Answer(woodpecker.SubmitProspects(body), http) : Malformed(woodpecker, http));
        v2.MapPost("/prospects/enrichments/statuses/query", async (HttpContext http, WoodpeckerSimulator woodpecker) =>
            await ReadBody(http) is (var body, null) ? Answer(woodpecker.QueryProspectStatuses(body), http) : Malformed(woodpecker, http));
        v2.MapGet("/prospects/enrichments/{uuid}", (string uuid, HttpContext http, WoodpeckerSimulator woodpecker) =>
            Answer(woodpecker.GetProspectEnrichment(uuid), http));

        rest.MapGet("/v1/prospects", (HttpContext http, WoodpeckerSimulator woodpecker) =>
        {
            var query = http.Request.Query;
            return Answer(woodpecker.SearchProspects(query["search"].FirstOrDefault(), query["page"].FirstOrDefault(),
                query["per_page"].FirstOrDefault(), query["sort"].FirstOrDefault()), http);
        });
        return rest;
    }

    /// <summary>The body as JSON; null for an empty body; Failed when it is not JSON.</summary>
    static async Task<(JsonNode? Body, string? Failed)> ReadBody(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body);
        var text = await reader.ReadToEndAsync(http.RequestAborted);
        if (string.IsNullOrWhiteSpace(text))
            return (null, null);
        try
        {
            return (JsonNode.Parse(text), null);
        }
        catch (JsonException)
        {
            return (null, "Malformed JSON body.");
        }
    }

    static IResult Malformed(WoodpeckerSimulator woodpecker, HttpContext http) =>
        Answer(woodpecker.Error(StatusCodes.Status400BadRequest, "Malformed JSON body."), http);

    static IResult Answer(WoodpeckerAnswer answer, HttpContext http)
    {
        if (answer.DropConnection)
        {
            // Done and charged, but the client never hears of it.
            http.Abort();
            return Results.Empty;
        }
        foreach (var (name, value) in answer.Headers ?? new Dictionary<string, string>())
            http.Response.Headers[name] = value;
        return answer.Body is null ? Results.StatusCode(answer.Status) : Results.Json(answer.Body, statusCode: answer.Status);
    }
}
