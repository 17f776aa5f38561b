using EnrichmentRelay.Access;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Costs;

/// <summary><c>GET /admin/costs</c>: what each provider found and cost over the last hour, day or 30 days.</summary>
public static class CostsApi
{
    public static IHostApplicationBuilder AddCosts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<CostReports>();
        return builder;
    }

    public static RouteGroupBuilder MapCosts(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/costs").WithTags("Admin");
        group.MapGet("/", ReportAsync)
            .WithSummary("Reports requests, contacts found, hit rate and credits per provider and field")
            .WithDescription("Over the attempts that ended in the window (window=1h, 1d or 30d; default 1d). Credits are charged per attempt, " +
                             "not per field: a provider's credits include every attempt (and, for Precept, every job's reported cost), while a " +
                             "field's credits count only the attempts that asked for that field alone and carry their own charge (null when none did). " +
                             "Credits per found contact = credits / " +
                             "fields found. Answers from the identity cache (and requests that shared an identical one's call) are not a provider's: " +
                             "cache counts them (hits, fields answered, found) with the credits they saved at each original provider's price " +
                             "(Budgets:<Provider>:Price*). Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "One day of Woodpecker emails", Example);
        return group;
    }

    static async Task<Results<Ok<CostReport>, ValidationProblem>> ReportAsync(CostReports reports, CancellationToken ct, string? window = CostWindows.Default)
    {
        if (window is null || !CostWindows.All.ContainsKey(window))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["window"] = [$"Must be one of: {CostWindows.Names}."] });
        return TypedResults.Ok(await reports.ForWindowAsync(window, ct));
    }

    const string Example = """
        {"window":"1d","from":"2026-12-02T09:00:00+00:00","to":"2026-12-03T09:00:00+00:00","providers":[
          {"provider":"woodpecker","requests":200,"contactsFound":120,"credits":180,"creditsPerFound":1.5,"fields":[
            {"field":"email","requests":200,"found":120,"hitRate":0.6,"credits":180,"creditsPerFound":1.5},
            {"field":"phone","requests":0,"found":0,"hitRate":null,"credits":null,"creditsPerFound":null}]}],
         "cache":{"hits":80,"fieldsAnswered":80,"found":50,"creditsSaved":120}}
        """;
}
