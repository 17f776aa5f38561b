using System.Text;
using EnrichmentRelay.DeadLetters;

namespace EnrichmentRelay.Tests.DeadLetters;

public sealed class RedeliveryCountTests
{
    static readonly TimeSpan[] Delays = [TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5)];

    public static TheoryData<object?, int> Headers => new()
    {
        { 2, 2 },
        { 2L, 2 },
        { (short)1, 1 },
        { "1", 1 },
        { Encoding.UTF8.GetBytes("2"), 2 },
        // Anyone can set the header: whatever it holds is a count from 0 up, never an index outside the delay list.
        { -1, 0 },
        { int.MinValue, 0 },
        { long.MinValue, 0 },
        { long.MaxValue, int.MaxValue },
        { ulong.MaxValue, int.MaxValue },
        { "-5", 0 },
        { "99999999999999999999", 0 },
        { "three", 0 },
        { 1.5, 0 },
        { null, 0 },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void TheRedeliveryCountHeaderIsClampedToACount(object? header, int count)
    {
        var read = DelayedRedeliveryFilter.CountFrom(header);

        Assert.Equal(count, read);
        // How the filter uses it: a count past the list means "no delay left", anything else is a valid index.
        Assert.True(read >= Delays.Length || Delays[read] > TimeSpan.Zero);
    }
}
