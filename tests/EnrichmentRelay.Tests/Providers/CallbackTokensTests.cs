using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Tests.Providers;

public sealed class CallbackTokensTests
{
    [Fact]
    public void TokensAreUrlSafeUniqueAndOnlyTheirOwnHashMatches()
    {
        var token = CallbackTokens.NewToken();
        var other = CallbackTokens.NewToken();

        Assert.NotEqual(token, other);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", token);
        Assert.True(CallbackTokens.Matches(token, CallbackTokens.Hash(token)));
        Assert.False(CallbackTokens.Matches(other, CallbackTokens.Hash(token)));
        Assert.DoesNotContain(token, CallbackTokens.Hash(token));
    }
}
