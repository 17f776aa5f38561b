using System.Globalization;
using EnrichmentRelay.Access;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Renormalize;

/// <summary>
/// <c>POST /admin/renormalize?from=&amp;to=</c>: after a mapping fix, the requests completed in a range are translated again
/// from their stored provider answers, and a corrected EnrichmentCompleted is published for each whose result changed
/// (<see cref="Renormalization"/>). One call examines a bounded batch; a range that holds more answers with where to go on.
/// </summary>
public static class RenormalizeApi
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = 5_000;

    public static IHostApplicationBuilder AddRenormalization(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<Renormalization>();
        return builder;
    }

    public static RouteGroupBuilder MapRenormalization(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/renormalize").WithTags("Admin");
        group.MapPost("/", RunAsync)
            .WithSummary("Translates the stored provider answers of requests completed in [from, to) again, and publishes a correction where the result changed")
            .WithDescription("No provider is called and no credit changes. A request whose outcome, emails, phones, per-field outcomes or contacts " +
                             "change gets one corrected EnrichmentCompleted (revision n + 1, a new eventId, supersedes = the event it replaces); " +
                             "the others get nothing, so a second run changes nothing. Requests none of whose attempts can be " +
                             "translated again count as withoutAnswers, by reason in withoutAnswersWhy. At most `limit` requests (default 500, at most 5000) " +
                             "are examined per call, oldest completion first; when the range holds more, `continueAfter` says where the next " +
                             "call starts (pass it as `after`). from, to and after are ISO 8601 instants. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "Two corrections in a day of completions", ReportExample);
        return group;
    }

    static async Task<Results<Ok<RenormalizeReport>, ValidationProblem>> RunAsync(Renormalization renormalization, ILoggerFactory loggers,
        CancellationToken ct, string? from = null, string? to = null, string? after = null, int? limit = null)
    {
        var problems = new Dictionary<string, string[]>();
        DateTimeOffset? Instant(string name, string? text, bool required)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                if (required)
                    problems[name] = ["Required: an ISO 8601 instant, e.g. 2026-12-01T00:00:00Z."];
                return null;
            }
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
                return value.ToUniversalTime();
            problems[name] = [$"'{text}' is not an ISO 8601 instant (e.g. 2026-12-01T00:00:00Z)."];
            return null;
        }
        var start = Instant("from", from, required: true);
        var end = Instant("to", to, required: true);
        var continueAfter = Instant("after", after, required: false);
        if (start is { } s && end is { } e && s >= e)
            problems["to"] = ["Must be later than from."];
        if (continueAfter is { } a && (start is { } rangeStart && a < rangeStart || end is { } rangeEnd && a >= rangeEnd))
            problems["after"] = ["Must lie in [from, to): it is the continueAfter of a previous call over the same range."];
        if (limit is < 1 or > MaxLimit)
            problems["limit"] = [$"Must be between 1 and {MaxLimit}."];
        if (problems.Count > 0)
            return TypedResults.ValidationProblem(problems);

        var report = await renormalization.RunAsync(new RenormalizeRange(start!.Value, end!.Value, continueAfter, limit ?? DefaultLimit), ct);
        loggers.CreateLogger(typeof(RenormalizeApi)).LogInformation(
            "Re-normalization of requests completed in [{From}, {To}) after {After}: {Examined} examined, {Changed} corrected, {Unchanged} unchanged, " +
            "{WithoutAnswers} without stored answers, {Failed} failed",
            start, end, continueAfter, report.Examined, report.Changed, report.Unchanged, report.WithoutAnswers, report.Failed);
        return TypedResults.Ok(report);
    }

    const string ReportExample = """
        {"examined":500,"changed":2,"unchanged":431,"withoutAnswers":66,"failed":1,
         "corrections":[{"requestId":"3f6b1c2e-9a4d-4a51-8e57-0f2a7d9b1c11","revision":2,"eventId":"0c1e5d55-2f0b-5a4e-9d3b-6c2f1a7e9b10","supersedes":"5b0c6f7e-1d2a-5c3b-8e4f-9a0b1c2d3e4f"},
                        {"requestId":"7a2d4e6f-1b3c-4d5e-8f9a-0b1c2d3e4f50","revision":3,"eventId":"2d4f6a8c-0e1b-5c3d-9e5f-7a9b1c3d5e70","supersedes":"9e8d7c6b-5a4f-5e3d-8c2b-1a0f9e8d7c60"}],
         "failures":[{"requestId":"c5a1b2d3-4e5f-4a6b-9c7d-8e9f0a1b2c3d","reason":"the stored answers of job relay-6f… cannot be translated again: JsonException: …"}],
         "continueAfter":"2026-12-01T17:42:10.5120000+00:00",
         "withoutAnswersWhy":{"no stored answer decided it (it ended at the submit, at the relay's deadline, or before any answer was kept)":60,
                              "Woodpecker: its result came from another batch that already held it, and who paid for that batch was read from the ledger at the time, not from an answer":6}}
        """;
}
