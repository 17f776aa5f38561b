using System.Reflection;

namespace EnrichmentRelay.Tests;

/// <summary>
/// An interface implemented by a dictionary of its members by name: a property returns its entry, a method with a
/// <c>Func&lt;object?[], object?&gt;</c> entry runs it on the call's arguments; anything else returns a default (a
/// completed task for a method returning one). For the few members a test needs of a large interface.
/// </summary>
public class Fake : DispatchProxy
{
    Dictionary<string, object?> members = [];

    public static T Of<T>(Dictionary<string, object?> members) where T : class
    {
        var fake = Create<T, Fake>();
        ((Fake)(object)fake).members = members;
        return fake;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        var name = method!.Name.StartsWith("get_", StringComparison.Ordinal) ? method.Name[4..] : method.Name;
        if (members.TryGetValue(name, out var member))
            return member is Func<object?[], object?> run ? run(args ?? []) : member;
        if (method.ReturnType == typeof(Task))
            return Task.CompletedTask;
        return method.ReturnType.IsValueType && method.ReturnType != typeof(void) ? Activator.CreateInstance(method.ReturnType) : null;
    }
}
