using Microsoft.AspNetCore.Diagnostics;

namespace EnrichmentRelay.Hosting;

/// <summary>
/// What minimal APIs bind themselves (route values, query strings: <c>?from=</c> on the admin routes) fails the same way
/// in every environment: binding always throws <see cref="BadHttpRequestException"/> (by default only Development does,
/// and answers an empty 400 elsewhere), and this handler turns it into a ProblemDetails with its status code and what
/// could not be read, never a 500, never a stack trace, and nothing logged as an error.
/// </summary>
public sealed class BadRequestProblems(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        if (exception is not BadHttpRequestException bad || context.Response.HasStarted)
            return false;
        context.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = bad.StatusCode, Title = "The request could not be read.", Detail = bad.Message },
        });
    }
}

public static class BadRequestExtensions
{
    public static IHostApplicationBuilder AddBadRequestAnswers(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<BadRequestProblems>();
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            // Routing answers another content type before the endpoint runs; say what it takes.
            if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType && context.ProblemDetails.Detail is null)
                context.ProblemDetails.Detail = "Send the body as JSON (Content-Type: application/json).";
        });
        return builder;
    }
}
