using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Threading.RateLimiting;
using EnrichmentRelay.Admin;
using EnrichmentRelay.Dashboard;
using EnrichmentRelay.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Access;

/// <summary>What a caller proved with the key it sent.</summary>
public enum AccessLevel
{
    /// <summary><see cref="RelayOptions.ClientApiKey"/>: intake, status, selections, metrics, API documents.</summary>
    Client,
    /// <summary><see cref="AdminOptions.ApiKey"/>: everything a client may, and the operator routes.</summary>
    Admin,
}

/// <summary>An endpoint's need: a key of at least this level (client routes are open while no client key is set).</summary>
public sealed record KeyRequirement(AccessLevel Level) : IAuthorizationRequirement;

/// <summary>
/// Who may call what, with ASP.NET Core's authentication and authorization: one scheme reads the key a caller sends
/// (<c>X-Api-Key</c>, or <c>Authorization: Bearer</c>), and routes say which key they need with
/// <see cref="RequireClientKey{TBuilder}"/> or <see cref="RequireAdminKey{TBuilder}"/>. Precept's webhook needs no key
/// (its per-job token is the credential), nor do the health probes and the dashboard's counts.
/// </summary>
public static class ApiKeyAccess
{
    public const string Scheme = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    const string ClientPolicy = "client-key";
    const string AdminPolicy = "admin-key";

    public static IHostApplicationBuilder AddApiKeyAccess(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IValidateOptions<RelayOptions>, ProtectionRequired>();
        builder.Services.AddSingleton<KeyGuesses>();
        // No default scheme (ASP.NET Core would make the only scheme the default): only routes that need a key
        // authenticate, so pages without one (the dashboard and its antiforgery tokens) always see an anonymous caller.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        builder.Services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(Scheme, null);
        builder.Services.AddSingleton<IAuthorizationHandler, KeyRequirementHandler>();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, KeyProblems>();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ClientPolicy, policy => policy.AddAuthenticationSchemes(Scheme).AddRequirements(new KeyRequirement(AccessLevel.Client)))
            .AddPolicy(AdminPolicy, policy => policy.AddAuthenticationSchemes(Scheme).AddRequirements(new KeyRequirement(AccessLevel.Admin)));
        builder.AddWebhookListener();
        return builder;
    }

    /// <summary>After forwarded headers (the key-guess limit is per real caller) and before the endpoints.</summary>
    public static IApplicationBuilder UseApiKeyAccess(this IApplicationBuilder app)
    {
        app.UseWebhookListener();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    public static TBuilder RequireClientKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(ClientPolicy);

    public static TBuilder RequireAdminKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(AdminPolicy);

    /// <summary>Constant-time comparison, so response timing tells a caller nothing about the key.</summary>
    public static bool Matches(string? presented, string? key) =>
        key is { Length: > 0 } && presented is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

/// <summary>A caller that sent too many wrong keys: answered 429 until its window ends, whatever it sends.</summary>
sealed class TooManyKeyGuessesException(TimeSpan retryAfter) : Exception("Too many wrong keys from this address.")
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Wrong keys per calling address: a handful a minute, like the dashboard's unlock form, so a key cannot be
/// guessed through the API. Only wrong keys count: an operator's own calls are never slowed down.
/// </summary>
public sealed class KeyGuesses : IDisposable
{
    public const int PermitLimit = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    readonly PartitionedRateLimiter<string> wrongKeys = PartitionedRateLimiter.Create<string, string>(address =>
        RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = PermitLimit, Window = Window, QueueLimit = 0,
        }));

    /// <summary>False once <paramref name="address"/> has used up its wrong keys for the window.</summary>
    public bool MayTry(string address, out TimeSpan retryAfter) => Take(address, 0, out retryAfter);

    /// <summary>Counts a wrong key; false when that was one too many.</summary>
    public bool Wrong(string address, out TimeSpan retryAfter) => Take(address, 1, out retryAfter);

    bool Take(string address, int permits, out TimeSpan retryAfter)
    {
        using var lease = wrongKeys.AttemptAcquire(address, permits);
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : Window;
        return lease.IsAcquired;
    }

    public void Dispose() => wrongKeys.Dispose();
}

/// <summary>Reads the key a caller sent and says which level it proves; a wrong key fails (and is counted).</summary>
sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggers,
    UrlEncoder encoder,
    IOptions<RelayOptions> relay,
    IOptions<AdminOptions> admin,
    KeyGuesses guesses) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggers, encoder)
{
    const string BearerPrefix = "Bearer ";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Request.Headers[ApiKeyAccess.HeaderName].Where(k => !string.IsNullOrEmpty(k)).Select(k => k!).ToList();
        if (Request.Headers.Authorization.FirstOrDefault() is { } authorization && authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            presented.Add(authorization[BearerPrefix.Length..].Trim());
        if (presented.Count == 0)
        {
            // A browser with the dashboard unlocked may read (the API documents, a request's status); anything that
            // changes state still needs the key in a header, which another site cannot make a browser send.
            return Task.FromResult(HttpMethods.IsGet(Request.Method) && DashboardApi.IsUnlocked(Context, admin.Value)
                ? Success(AccessLevel.Admin)
                : AuthenticateResult.NoResult());
        }

        var address = Context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (!guesses.MayTry(address, out var wait))
            return Task.FromResult(AuthenticateResult.Fail(new TooManyKeyGuessesException(wait)));
        AccessLevel? level = presented.Any(k => ApiKeyAccess.Matches(k, admin.Value.ApiKey)) ? AccessLevel.Admin
            : presented.Any(k => ApiKeyAccess.Matches(k, relay.Value.ClientApiKey)) ? AccessLevel.Client
            : null;
        if (level is null)
        {
            // Logged without the key, and without the path (which on a webhook URL would hold a token).
            Logger.LogWarning("A wrong API key was sent from {RemoteAddress}", address);
            return Task.FromResult(guesses.Wrong(address, out wait)
                ? AuthenticateResult.Fail("The key is not a key of this relay.")
                : AuthenticateResult.Fail(new TooManyKeyGuessesException(wait)));
        }
        return Task.FromResult(Success(level.Value));
    }

    static AuthenticateResult Success(AccessLevel level) => AuthenticateResult.Success(new AuthenticationTicket(
        new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, level.ToString())], ApiKeyAccess.Scheme)), ApiKeyAccess.Scheme));
}

sealed class KeyRequirementHandler(IOptions<RelayOptions> relay) : AuthorizationHandler<KeyRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, KeyRequirement requirement)
    {
        var admin = context.User.IsInRole(nameof(AccessLevel.Admin));
        var met = requirement.Level switch
        {
            AccessLevel.Admin => admin,
            _ => admin || context.User.IsInRole(nameof(AccessLevel.Client)) || string.IsNullOrEmpty(relay.Value.ClientApiKey),
        };
        if (met)
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>Refusals as ProblemDetails saying which key to send (401), or when to try again (429).</summary>
sealed class KeyProblems(IOptions<AdminOptions> admin) : IAuthorizationMiddlewareResultHandler
{
    readonly AuthorizationMiddlewareResultHandler allowed = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Succeeded)
        {
            await allowed.HandleAsync(next, context, policy, result);
            return;
        }
        // The scheme's result of this request (computed once per request; a wrong key is not counted twice).
        if ((await context.AuthenticateAsync(ApiKeyAccess.Scheme)).Failure is TooManyKeyGuessesException tooMany)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(tooMany.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many wrong keys",
                detail: $"More than {KeyGuesses.PermitLimit} wrong keys a minute came from this address; try again later.").ExecuteAsync(context);
            return;
        }
        var level = policy.Requirements.OfType<KeyRequirement>().Select(r => r.Level).DefaultIfEmpty(AccessLevel.Admin).Max();
        var detail = level == AccessLevel.Admin
            ? admin.Value.ApiKey is null
                ? "Admin routes are switched off: set Admin:ApiKey to use them."
                : $"Send the admin key in the {ApiKeyAccess.HeaderName} header."
            : $"Send the client key (Relay:ClientApiKey) in the {ApiKeyAccess.HeaderName} header or as Authorization: Bearer.";
        await TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized,
            title: level == AccessLevel.Admin ? "Admin key required" : "Client key required", detail: detail).ExecuteAsync(context);
    }
}

/// <summary>
/// On RabbitMQ the relay is a deployment, not a try-out: the routes that spend credits and show contact data must not
/// be open to whoever reaches the port Precept calls. Either a client key, or a webhook listener of its own so the
/// main one can stay private.
/// </summary>
sealed class ProtectionRequired(IConfiguration configuration) : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var transport = configuration[Messaging.BusOptions.Section + ":" + nameof(Messaging.BusOptions.Transport)];
        var onRabbitMq = Enum.TryParse<Messaging.BusTransport>(transport, ignoreCase: true, out var parsed) && parsed == Messaging.BusTransport.RabbitMq;
        if (!onRabbitMq || !string.IsNullOrEmpty(options.ClientApiKey) || !string.IsNullOrWhiteSpace(options.WebhookUrls))
            return ValidateOptionsResult.Success;
        return ValidateOptionsResult.Fail(
            "Relay:ClientApiKey is required when Bus:Transport is RabbitMq: set it (at least 32 characters; callers send it in the X-Api-Key header), " +
            "or set Relay:WebhookUrls (such as http://+:8081) to give Precept's webhook a listener of its own and keep the main one private.");
    }
}
