using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Tests.Providers;

/// <summary>An answer's body is kept whole up to its limit, and past it as its start with a mark saying how long it was.</summary>
public sealed class ProviderAnswersTests
{
    static readonly DateTimeOffset At = new(2026, 12, 6, 13, 0, 0, TimeSpan.Zero);

    static CapturedAnswer RecordOne(string body)
    {
        using (ProviderAnswers.Capture(out var answers))
        {
            ProviderAnswers.Record(ProviderName.Precept, "GET /jobs/{id}", 200, body, null, At);
            return Assert.Single(answers);
        }
    }

    [Fact]
    public void ABodyAtTheLimitIsKeptWholeAndOnePastItIsCutWithItsLength()
    {
        var atLimit = new string('a', ProviderAnswers.MaxBodyChars);
        var kept = RecordOne(atLimit).Body!;
        Assert.Same(atLimit, kept);
        Assert.False(ProviderAnswers.WasCut(kept));

        var longer = string.Concat(new string('b', ProviderAnswers.MaxBodyChars), "tail");
        var cut = RecordOne(longer).Body!;
        Assert.Equal(longer[..ProviderAnswers.MaxBodyChars] + $"… [cut at {ProviderAnswers.MaxBodyChars} of {longer.Length} characters]", cut);
        Assert.True(ProviderAnswers.WasCut(cut));
        Assert.DoesNotContain("tail", cut);
    }
}
