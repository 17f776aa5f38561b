using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Operations;

/// <summary>
/// Settings are checked before the relay takes any work; a wrong or contradictory one stops the process
/// with one line per problem naming the setting (not a stack trace), and exit code <see cref="ExitCode"/>.
/// </summary>
public static partial class InvalidSettings
{
    /// <summary>EX_CONFIG from sysexits.h: a supervisor (or a test) can tell "fix the configuration" from a crash.</summary>
    public const int ExitCode = 78;

    /// <summary>
    /// From here on, an exception that reaches the top because of settings ends the process with one line per
    /// problem and <see cref="ExitCode"/>; any other exception still crashes as usual, with its stack trace.
    /// </summary>
    public static void ExitWithReport() => AppDomain.CurrentDomain.UnhandledException += (_, e) =>
    {
        if (e.ExceptionObject is Exception exception && Describe(exception) is { } problems)
            Environment.Exit(Report(problems));
    };

    /// <summary>Runs every options check registered with ValidateOnStart now, before the ledger or the bus is touched.</summary>
    public static void ValidateSettings(this IHost app) => app.Services.GetService<IStartupValidator>()?.Validate();

    /// <summary>The problems an exception reports about settings, one line each; null when it is about something else.</summary>
    public static IReadOnlyList<string>? Describe(Exception exception) => exception switch
    {
        OptionsValidationException invalid => Lines(invalid).ToList(),
        // Distinct: options that read other options (the provider clients' resilience settings read the
        // provider's timeout) fail with the same message a second time.
        AggregateException { InnerExceptions: var all } when all.Count > 0 && all.All(e => e is OptionsValidationException) =>
            all.Cast<OptionsValidationException>().SelectMany(Lines).Distinct().ToList(),
        // The configuration binder: a value that is not of the setting's type ("Bus:Transport" = "Rabbit").
        InvalidOperationException { Message: var message } when message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            [message],
        _ => null,
    };

    public static int Report(IReadOnlyList<string> problems)
    {
        foreach (var problem in problems)
            Console.Error.WriteLine($"Invalid setting: {problem}");
        Console.Error.WriteLine($"EnrichmentRelay did not start: {problems.Count} setting(s) to fix (see the Configuration section of the README).");
        return ExitCode;
    }

    /// <summary>
    /// ValidateDataAnnotations words each failure as "DataAnnotation validation failed for 'T' members: 'M' with the
    /// error: '...'". Our own checks already name the setting; attribute checks ([Range]) name only the property,
    /// so those get the options' section in front.
    /// </summary>
    static IEnumerable<string> Lines(OptionsValidationException invalid)
    {
        var section = invalid.OptionsType.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as string;
        foreach (var failure in invalid.Failures)
        {
            var match = DataAnnotationFailure().Match(failure);
            if (!match.Success)
            {
                yield return failure;
                continue;
            }
            var error = match.Groups["error"].Value;
            var member = match.Groups["members"].Value.Split(',', StringSplitOptions.TrimEntries)[0];
            yield return section is null || error.StartsWith(section + ":", StringComparison.Ordinal) ? error : $"{section}:{member}: {error}";
        }
    }

    [GeneratedRegex(@"^DataAnnotation validation failed for '[^']*' members: '(?<members>[^']*)' with the error: '(?<error>.*)'\.$", RegexOptions.Singleline)]
    private static partial Regex DataAnnotationFailure();
}
