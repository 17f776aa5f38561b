using System.ComponentModel.DataAnnotations;
using EnrichmentRelay.Access;

namespace EnrichmentRelay.Admin;

public sealed class AdminOptions
{
    public const string Section = "Admin";
    public const string HeaderName = ApiKeyAccess.HeaderName;

    /// <summary>
    /// The key operator routes (<c>/admin/...</c>) require in the <c>X-Api-Key</c> header. Secret: from the
    /// environment or a secret store. Unset, every admin route answers 401.
    /// </summary>
    [MinLength(32, ErrorMessage = "Admin:ApiKey must be at least 32 characters.")]
    public string? ApiKey { get; set; }
}

/// <summary>Operator routes: one group per feature under <c>/admin</c>, all behind the admin API key.</summary>
public static class AdminApi
{
    public static IHostApplicationBuilder AddAdmin(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    /// <summary>401 ProblemDetails unless the request carries the admin key; wrong keys are limited per caller (429).</summary>
    public static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder app, string prefix) =>
        app.MapGroup("/admin" + prefix).RequireAdminKey();

    public static bool IsAdminKey(string? presented, AdminOptions options) => ApiKeyAccess.Matches(presented, options.ApiKey);
}
