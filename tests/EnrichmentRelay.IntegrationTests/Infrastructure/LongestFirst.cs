using System.Reflection;
using Xunit;
using Xunit.Abstractions;

[assembly: TestCollectionOrderer("EnrichmentRelay.IntegrationTests.Infrastructure.LongestFirst", "EnrichmentRelay.IntegrationTests")]

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// Marks a test class that runs for minutes, mostly waiting (a take-over window, an outage): it is started among the first
/// so that it does not end the parallel phase alone while the other slots stand idle.
/// </summary>
/// <param name="seconds">About how long the whole class takes on 2 cores: the longest start first.</param>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RunsLongAttribute(int seconds) : Attribute
{
    public int Seconds { get; } = seconds;
}

/// <summary>
/// Starts the test collections marked <see cref="RunsLongAttribute"/> first, longest first, then the others in xUnit's
/// own order. With a few tests at a time (xunit.runner.json) this packs the parallel phase (longest processing time
/// first); the collections that run one at a time still come after all the others.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    static readonly Dictionary<string, int> Expected = typeof(LongestFirst).Assembly.GetTypes()
        .Select(type => (Name: "Test collection for " + type.FullName, Attribute: type.GetCustomAttribute<RunsLongAttribute>()))
        .Where(t => t.Attribute is not null)
        .ToDictionary(t => t.Name, t => t.Attribute!.Seconds);

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderByDescending(c => Expected.GetValueOrDefault(c.DisplayName));
}
