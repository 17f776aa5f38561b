using EnrichmentRelay.Access;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Budgets;

/// <summary>An operator's budget for one provider; a null leaves that limit off.</summary>
public sealed record BudgetLimitsBody(decimal? DailyCap, decimal? PerRequestCeiling);

/// <summary>
/// Per-provider credit budgets: a daily cap and a per-request ceiling, from the settings (<c>Budgets:*</c>) or set at
/// run time through <c>/admin/budgets</c> (kept in the ledger, so every instance applies them at its next flush).
/// </summary>
public static class BudgetsApi
{
    public static IHostApplicationBuilder AddBudgets(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BudgetsOptions>().BindConfiguration(BudgetsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<PreceptBudgetOptions>().BindConfiguration(PreceptBudgetOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<WoodpeckerBudgetOptions>().BindConfiguration(WoodpeckerBudgetOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LanceBudgetOptions>().BindConfiguration(LanceBudgetOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<BudgetSettings>();
        builder.Services.AddScoped<ProviderBudgets>();
        builder.Services.AddHostedService<BudgetSettlement>();
        return builder;
    }

    public static RouteGroupBuilder MapBudgets(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/budgets").WithTags("Admin");
        group.MapGet("/", async (ProviderBudgets budgets, CancellationToken ct) => TypedResults.Ok(await budgets.StatusAsync(ct)))
            .WithSummary("Each provider's budget today (UTC): cap, per-request ceiling, credits reserved and charged, what remains")
            .WithDescription("source is \"settings\" (Budgets:<Provider>:DailyCap and PerRequestCeiling) or \"admin\" (set by PUT). Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "Precept capped at 5,000 credits a day", ListExample);
        group.MapPut("/{provider}", SetAsync)
            .WithSummary("Sets a provider's daily cap and per-request ceiling at run time (null: no limit)")
            .WithDescription("Kept in the ledger: every instance applies it from its next flush, and it outlives restarts until deleted. " +
                             "A lower cap does not cancel what is already reserved. Needs the X-Api-Key header.")
            .WithRequestExample("5,000 credits a day, at most 12 a request", """{"dailyCap":5000,"perRequestCeiling":12}""")
            .WithResponseExample(StatusCodes.Status200OK, "Precept's budget after the change", ItemExample);
        group.MapDelete("/{provider}", ClearAsync)
            .WithSummary("Returns a provider's budget to its settings")
            .WithDescription("Deletes the operator's limits from the ledger: every instance applies Budgets:<Provider>:DailyCap and " +
                             "PerRequestCeiling again from its next flush. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "Precept's budget from its settings again", ItemExample);
        return group;
    }

    static async Task<Results<Ok<BudgetStatus>, NotFound, ValidationProblem>> SetAsync(string provider, BudgetLimitsBody body,
        ProviderBudgets budgets, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!Enum.TryParse<ProviderName>(provider, ignoreCase: true, out var name) || !Enum.IsDefined(name))
            return TypedResults.NotFound();
        var problems = new Dictionary<string, string[]>();
        if (body.DailyCap is < 0 or > ProviderBudgetOptions.MaxCredits)
            problems["dailyCap"] = [$"Must be between 0 and {ProviderBudgetOptions.MaxCredits:0}, or null for no cap."];
        if (body.PerRequestCeiling is < 0 or > ProviderBudgetOptions.MaxCredits)
            problems["perRequestCeiling"] = [$"Must be between 0 and {ProviderBudgetOptions.MaxCredits:0}, or null for no ceiling."];
        if (problems.Count > 0)
            return TypedResults.ValidationProblem(problems);
        await budgets.SetAsync(name, body.DailyCap, body.PerRequestCeiling, ct);
        loggers.CreateLogger(typeof(BudgetsApi)).LogInformation(
            "Budget of {Provider} set by an operator: daily cap {DailyCap}, per-request ceiling {PerRequestCeiling}", name, body.DailyCap, body.PerRequestCeiling);
        return TypedResults.Ok((await budgets.StatusAsync(ct)).Single(b => b.Provider == name));
    }

    static async Task<Results<Ok<BudgetStatus>, NotFound>> ClearAsync(string provider, ProviderBudgets budgets, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!Enum.TryParse<ProviderName>(provider, ignoreCase: true, out var name) || !Enum.IsDefined(name))
            return TypedResults.NotFound();
        await budgets.ClearAsync(name, ct);
        loggers.CreateLogger(typeof(BudgetsApi)).LogInformation("Budget of {Provider} returned to its settings by an operator", name);
        return TypedResults.Ok((await budgets.StatusAsync(ct)).Single(b => b.Provider == name));
    }

    const string ItemExample = """
        {"provider":"precept","day":"2026-12-03","dailyCap":5000,"perRequestCeiling":12,"source":"admin","reserved":1200,"charged":2310.5,"remaining":1489.5}
        """;

    const string ListExample = """
        [{"provider":"precept","day":"2026-12-03","dailyCap":5000,"perRequestCeiling":12,"source":"settings","reserved":1200,"charged":2310.5,"remaining":1489.5},
         {"provider":"woodpecker","day":"2026-12-03","dailyCap":null,"perRequestCeiling":null,"source":"settings","reserved":0,"charged":75,"remaining":null},
         {"provider":"lance","day":"2026-12-03","dailyCap":null,"perRequestCeiling":null,"source":"settings","reserved":0,"charged":0,"remaining":null}]
        """;
}
