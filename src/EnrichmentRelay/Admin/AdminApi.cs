using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Admin;

public sealed class AdminOptions
{
    public const string Section = "Admin";
    public const string HeaderName = "X-Api-Key";

    /// <summary>
    /// The key operator routes (<c>/admin/...</c>) require in the <c>X-Api-Key</c> header. Secret: from the
    /// environment or a secret store. Unset, every admin route answers 401.
    /// </summary>
    [MinLength(16, ErrorMessage = "Admin:ApiKey must be at least 16 characters.")]
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

    public static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder app, string prefix) =>
        app.MapGroup("/admin" + prefix).AddEndpointFilter<AdminApiKeyFilter>();

    /// <summary>Constant-time comparison, so response timing tells a caller nothing about the key.</summary>
    public static bool IsAdminKey(string? presented, AdminOptions options) =>
        options.ApiKey is { Length: > 0 } key && presented is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

/// <summary>401 ProblemDetails unless the request carries the configured admin key.</summary>
public sealed class AdminApiKeyFilter(IOptions<AdminOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var presented = context.HttpContext.Request.Headers[AdminOptions.HeaderName].FirstOrDefault();
        if (AdminApi.IsAdminKey(presented, options.Value))
            return await next(context);
        var detail = options.Value.ApiKey is null
            ? "Admin routes are switched off: set Admin:ApiKey to use them."
            : $"Send the admin key in the {AdminOptions.HeaderName} header.";
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Admin key required", detail: detail);
    }
}
