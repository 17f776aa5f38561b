using EnrichmentRelay.Operations;
using Microsoft.Extensions.Logging.Configuration;

namespace EnrichmentRelay.Webhooks;

/// <summary>
/// The request path carries the per-job webhook token, so the ASP.NET Core categories that write paths are pinned off,
/// whatever the log configuration says. Hosting is switched off entirely: while it is enabled at all it opens a
/// RequestPath scope on every request, which IncludeScopes would print on each line logged during a webhook call.
/// </summary>
public static class WebhookLogging
{
    /// <summary>Each category that writes request paths, and the least severe level it may log at.</summary>
    public static readonly IReadOnlyList<(string Category, LogLevel Floor)> PathCategories =
    [
        ("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None),
        ("Microsoft.AspNetCore.Routing.Matching", LogLevel.Warning),
    ];

    public static IHostApplicationBuilder AddTokenSafeLogging(this IHostApplicationBuilder builder)
    {
        foreach (var (category, floor) in PathCategories)
            builder.Logging.AddFilter(category, floor);
        // A rule for one provider outranks every rule for all providers ("Logging:Console:LogLevel:Default=Debug" beat the
        // pins above): each provider the configuration names gets the pins too. Added last, they win over a configured
        // rule for the same provider and category, which the check below reports instead of overriding silently.
        var providers = builder.Configuration.GetSection("Logging").GetChildren().Select(c => c.Key)
            .Where(name => !name.Equals("LogLevel", StringComparison.OrdinalIgnoreCase)).ToList();
        builder.Services.PostConfigure<LoggerFilterOptions>(options =>
        {
            foreach (var provider in providers)
                foreach (var (category, floor) in PathCategories)
                    options.Rules.Add(new LoggerFilterRule(provider, category, floor, filter: null));
        });
        builder.Services.AddSingleton<ISettingsCheck, PathCategoriesStayQuiet>();
        return builder;
    }

    /// <summary>
    /// Start-up check: no logging setting asks for a path category below its floor (it would log webhook tokens), and,
    /// asked of the loggers themselves, none is enabled.
    /// </summary>
    sealed class PathCategoriesStayQuiet(IConfiguration configuration, ILoggerFactory loggers) : ISettingsCheck
    {
        public IEnumerable<string> Problems()
        {
            var logging = configuration.GetSection("Logging");
            var levelSections = new[] { logging.GetSection("LogLevel") }
                .Concat(logging.GetChildren().Select(provider => provider.GetSection("LogLevel")));
            foreach (var rule in levelSections.SelectMany(s => s.GetChildren()))
            {
                var pinned = PathCategories.FirstOrDefault(p =>
                    rule.Key.Equals(p.Category, StringComparison.OrdinalIgnoreCase) || rule.Key.StartsWith(p.Category + ".", StringComparison.OrdinalIgnoreCase));
                if (pinned.Category is not null && Enum.TryParse<LogLevel>(rule.Value, ignoreCase: true, out var level) && level < pinned.Floor)
                    yield return $"{rule.Path} must not be below {pinned.Floor}: that category logs request paths, and a webhook path holds a secret token.";
            }
            foreach (var (category, floor) in PathCategories)
                if (floor > LogLevel.Trace && loggers.CreateLogger(category).IsEnabled(floor - 1))
                    yield return $"Logging enables {category} below {floor}: that category logs request paths, and a webhook path holds a secret token.";
        }
    }
}
