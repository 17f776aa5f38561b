using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Hosting;

/// <summary>
/// Settings are checked before the relay takes any work; a wrong or contradictory one stops the process
/// with one line per problem naming the setting (not a stack trace), and exit code <see cref="ExitCode"/>.
/// </summary>
/// <summary>A start-up check that options validation cannot express (it reads several sections, or the built services).</summary>
public interface ISettingsCheck
{
    /// <summary>One line per problem, naming the setting; none when all is well.</summary>
    IEnumerable<string> Problems();
}

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

    /// <summary>
    /// Runs every options check registered with ValidateOnStart, and every <see cref="ISettingsCheck"/>, now, before the
    /// ledger or the bus is touched; all problems are reported together.
    /// </summary>
    public static void ValidateSettings(this IHost app)
    {
        var problems = new List<Exception>();
        try
        {
            app.Services.GetService<IStartupValidator>()?.Validate();
        }
        catch (Exception e) when (Describe(e) is not null)
        {
            problems.Add(e);
        }
        var others = app.Services.GetServices<ISettingsCheck>().SelectMany(check => check.Problems()).ToList();
        if (others.Count > 0)
            problems.Add(new OptionsValidationException(nameof(ISettingsCheck), typeof(ISettingsCheck), others));
        if (problems.Count > 0)
            throw new AggregateException(problems.SelectMany(p => p is AggregateException all ? all.InnerExceptions : [p]));
    }

    /// <summary><c>--check-settings</c>: check the settings and exit, 0 when they are all right, without taking any work.</summary>
    public const string CheckFlag = "--check-settings";

    /// <summary>Whether the flag was given; it is taken out of <paramref name="args"/> (it is no configuration key).</summary>
    public static bool IsCheckRequested(ref string[] args)
    {
        var requested = args.Contains(CheckFlag);
        args = args.Where(a => a != CheckFlag).ToArray();
        return requested;
    }

    public static int ReportValid()
    {
        Console.WriteLine("Settings are valid.");
        return 0;
    }

    /// <summary>The problems an exception reports about settings, one line each; null when it is about something else.</summary>
    public static IReadOnlyList<string>? Describe(Exception exception) => exception switch
    {
        OptionsValidationException invalid => Lines(invalid).ToList(),
        // Distinct: options that read other options (the provider clients' resilience settings read the
        // provider's timeout) fail with the same message a second time. The start-up check gathers binder failures
        // (a value of the wrong type in options validated on start) beside validation failures.
        AggregateException { InnerExceptions: var all } when all.Count > 0 && all.All(e => Describe(e) is not null) =>
            all.SelectMany(e => Describe(e)!).Distinct().ToList(),
        // The configuration binder: a value that is not of the setting's type ("Bus:Transport" = "Rabbit").
        InvalidOperationException { Message: var message } when message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            [message],
        _ => null,
    };

    public static int Report(IReadOnlyList<string> problems)
    {
        foreach (var problem in problems)
            Console.Error.WriteLine($"Invalid setting: {problem}");
        Console.Error.WriteLine($"EnrichmentRelay did not start: {problems.Count} setting(s) to fix (see docs/configuration.md).");
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
