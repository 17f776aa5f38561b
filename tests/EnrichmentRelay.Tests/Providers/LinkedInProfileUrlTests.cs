using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Tests.Providers;

public sealed class LinkedInProfileUrlTests
{
    [Theory]
    // As Woodpecker's Lead Finder returns it, and as people paste it.
    [InlineData("linkedin.com/in/erlich-bachman-404xyz", "https://www.linkedin.com/in/erlich-bachman-404xyz")]
    [InlineData("www.linkedin.com/in/erlich-bachman-404xyz", "https://www.linkedin.com/in/erlich-bachman-404xyz")]
    [InlineData("  https://www.linkedin.com/in/erlich-bachman-404xyz/  ", "https://www.linkedin.com/in/erlich-bachman-404xyz")]
    [InlineData("http://linkedin.com/in/erlich-bachman-404xyz?trk=public_profile#about", "https://www.linkedin.com/in/erlich-bachman-404xyz")]
    [InlineData("HTTPS://UK.LinkedIn.com/in/Erlich-Bachman-404xyz/en", "https://www.linkedin.com/in/Erlich-Bachman-404xyz")]
    [InlineData("https://m.linkedin.com/in/erlich/details/experience/", "https://www.linkedin.com/in/erlich")]
    [InlineData("//linkedin.com/in/erlich", "https://www.linkedin.com/in/erlich")]
    [InlineData("linkedin.com/in/josé-garcía", "https://www.linkedin.com/in/jos%C3%A9-garc%C3%ADa")]
    [InlineData("https://www.linkedin.com/in/jos%C3%A9-garc%C3%ADa", "https://www.linkedin.com/in/jos%C3%A9-garc%C3%ADa")]
    public void ProfileAddressesTakeOneCanonicalForm(string url, string canonical)
    {
        Assert.True(LinkedInProfileUrl.TryCanonical(url, out var result, out var whyNot), whyNot);
        Assert.Equal(canonical, result);
        // Canonical once is canonical for good.
        Assert.Equal(canonical, LinkedInProfileUrl.Canonical(canonical));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("https://www.linkedin.com/company/bachmanity", "company page")]
    [InlineData("https://www.linkedin.com/in/", "names no profile")]
    [InlineData("https://www.linkedin.com/feed/", "not a person's profile")]
    [InlineData("https://example.com/in/erlich", "example.com is not LinkedIn")]
    [InlineData("https://notlinkedin.com/in/erlich", "is not LinkedIn")]
    [InlineData("https://linkedin.com.evil.io/in/erlich", "is not LinkedIn")]
    [InlineData("https://user@linkedin.com/in/erlich", "user name or a port")]
    [InlineData("https://www.linkedin.com:8443/in/erlich", "user name or a port")]
    [InlineData("ftp://linkedin.com/in/erlich", "scheme is ftp")]
    [InlineData("Erlich Bachman", "not")]
    [InlineData("https://www.linkedin.com/in/erlich%20bachman", "not one LinkedIn gives")]
    public void WhatIsNotAPersonsProfileIsRefusedWithTheReason(string url, string reason)
    {
        Assert.False(LinkedInProfileUrl.TryCanonical(url, out var canonical, out var whyNot));
        Assert.Null(canonical);
        Assert.Contains(reason, whyNot);
    }

    [Fact]
    public void TwoSpellingsOfOneProfileMatch()
    {
        Assert.Equal(LinkedInProfileUrl.MatchKey("linkedin.com/in/erlich-bachman-404xyz"),
            LinkedInProfileUrl.MatchKey("https://www.linkedin.com/in/Erlich-Bachman-404xyz/"));
        Assert.NotEqual(LinkedInProfileUrl.MatchKey("linkedin.com/in/erlich-1"), LinkedInProfileUrl.MatchKey("linkedin.com/in/erlich-2"));
        Assert.Null(LinkedInProfileUrl.MatchKey(""));
        Assert.Null(LinkedInProfileUrl.MatchKey(null));
    }
}
