using System.Security.Cryptography;
using System.Threading.RateLimiting;
using System.Text;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.Antiforgery;
using EnrichmentRelay.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Access;
using EnrichmentRelay.Budgets;
using EnrichmentRelay.Costs;

namespace EnrichmentRelay.Dashboard;

/// <summary>
/// The operator's page at <c>/</c>: server-rendered HTML (Razor components), no script, no external assets,
/// refreshing itself. Counts are open to anyone who can reach the relay; a request's history (lead data,
/// provider payloads) and replaying dead letters need the admin key, entered once and kept in a cookie.
/// </summary>
public static class DashboardApi
{
    public const string UnlockRateLimitPolicy = "dashboard-unlock";
    const string DashboardCostWindow = "1h";

    public static IHostApplicationBuilder AddDashboard(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents();
        // The replay and unlock forms carry a token of the page they came from, beside the SameSite=Strict cookie.
        builder.Services.AddAntiforgery();
        builder.Services.AddScoped<DashboardQueries>();
        builder.Services.AddRateLimiter(limiter => limiter.AddPolicy(UnlockRateLimitPolicy, context =>
            RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 })));
        return builder;
    }

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        // Pages for people, not API routes: left out of the OpenAPI document.
        var pages = app.MapGroup("").ExcludeFromDescription();
        pages.MapGet("/", OverviewAsync);
        pages.MapGet("/requests", (string? requestId) => Guid.TryParse(requestId?.Trim(), out var id)
            ? Results.Redirect($"/requests/{id}")
            : Results.Redirect("/?notice=" + Uri.EscapeDataString($"'{requestId}' is not a request id (a GUID).")));
        pages.MapGet("/requests/{requestId:guid}", HistoryAsync);
        // Forms are read by hand, not bound: the key in the form is the credential. The cookie it sets is SameSite=Strict
        // and each form carries the antiforgery token of the page it came from, so another site can neither unlock the
        // page nor replay through it.
        pages.MapGet("/dashboard/unlock", (HttpContext http, IOptions<AdminOptions> admin, string? returnUrl) => Unlock(http, admin.Value, LocalOnly(returnUrl)));
        // A handful of tries a minute per caller: the key cannot be guessed through the form.
        pages.MapPost("/dashboard/unlock", UnlockAsync).RequireRateLimiting(UnlockRateLimitPolicy);
        pages.MapPost("/dashboard/dead-letters/{id:guid}/replay", ReplayAsync);
        return app;
    }

    static async Task<RazorComponentResult> OverviewAsync(HttpContext http, DashboardQueries queries, CostReports costReports, ProviderBudgets budgets,
        IOptions<AdminOptions> admin, string? notice, string? costs, CancellationToken ct)
    {
        var unlocked = AdminCookie.IsUnlocked(http, admin.Value);
        return new RazorComponentResult<OverviewPage>(new
        {
            Model = await queries.OverviewAsync(unlocked, notice, ct),
            // The last hour unless asked (the page reloads every 10 s: the longer windows are read on demand). An unknown
            // window shows that too rather than an error: the page is for people.
            Costs = await costReports.ForWindowAsync(costs is not null && CostWindows.All.ContainsKey(costs) ? costs : DashboardCostWindow, ct),
            Antiforgery = unlocked ? FormTokens(http) : null,
            Budgets = await budgets.StatusAsync(ct),
        });
    }

    /// <summary>The unlock form, with its form token.</summary>
    static RazorComponentResult Unlock(HttpContext http, AdminOptions admin, string returnUrl, bool failed = false) =>
        new RazorComponentResult<UnlockPage>(new { ReturnUrl = returnUrl, KeyConfigured = admin.ApiKey is not null, Failed = failed, Antiforgery = FormTokens(http) })
        {
            StatusCode = failed ? StatusCodes.Status401Unauthorized : StatusCodes.Status200OK,
        };

    static AntiforgeryTokenSet FormTokens(HttpContext http) => http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);

    /// <summary>
    /// A state-changing form is taken only as a form, and only with the token of a page this site rendered: a 400 with
    /// ProblemDetails otherwise (a stray JSON post or a forged form), never a 500.
    /// </summary>
    static async Task<IResult?> RefuseUnlessOwnFormAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType)
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not a form",
                detail: "Dashboard actions take an HTML form (application/x-www-form-urlencoded) from the dashboard's own pages.");
        if (!await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http))
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Form token missing or wrong",
                detail: "The form did not come from this dashboard (or the page is too old): reload the page and try again.");
        return null;
    }

    static async Task<IResult> HistoryAsync(Guid requestId, HttpContext http, DashboardQueries queries, IOptions<AdminOptions> admin,
        CancellationToken ct)
    {
        if (!AdminCookie.IsUnlocked(http, admin.Value))
            return Unlock(http, admin.Value, $"/requests/{requestId}");
        return await queries.HistoryAsync(requestId, ct) is { } history
            ? new RazorComponentResult<RequestPage>(new { Model = history })
            : Results.Redirect("/?notice=" + Uri.EscapeDataString($"No request {requestId} in the ledger."));
    }

    static async Task<IResult> UnlockAsync(HttpContext http, IOptions<AdminOptions> admin, PublicUrls publicUrls, TimeProvider time)
    {
        if (await RefuseUnlessOwnFormAsync(http) is { } refused)
            return refused;
        var form = await http.Request.ReadFormAsync();
        var returnUrl = LocalOnly(form["returnUrl"].FirstOrDefault());
        if (!AdminApi.IsAdminKey(form["key"].FirstOrDefault(), admin.Value))
            return Unlock(http, admin.Value, returnUrl, failed: true);
        // Behind a proxy that ends TLS the request itself is plain http: the public address says what the browser uses.
        AdminCookie.Issue(http, admin.Value.ApiKey!, time.GetUtcNow(), secure: http.Request.IsHttps || publicUrls.BaseUrl.Scheme == Uri.UriSchemeHttps);
        return Results.Redirect(returnUrl);
    }

    static async Task<IResult> ReplayAsync(Guid id, HttpContext http, RelayDbContext db, DeadLetterReplayer replayer, IOptions<AdminOptions> admin,
        CancellationToken ct)
    {
        if (await RefuseUnlessOwnFormAsync(http) is { } refused)
            return refused;
        if (!AdminCookie.IsUnlocked(http, admin.Value))
            return Unlock(http, admin.Value, "/");
        if (await db.DeadLetters.SingleOrDefaultAsync(d => d.Id == id, ct) is not { } letter)
            return Results.Redirect("/?notice=" + Uri.EscapeDataString($"No dead letter {id}."));
        await replayer.ReplayAsync([letter], ct);
        return Results.Redirect("/?notice=" + Uri.EscapeDataString($"Replayed dead letter {id} to {letter.Queue}."));
    }

    /// <summary>Only a path on this site (ASP.NET Core's own check, which also refuses "/\t/host" and the like): the form cannot send anyone elsewhere.</summary>
    static string LocalOnly(string? url) => RedirectHttpResult.IsLocalUrl(url) ? url! : "/";
}
