using System.Net;
using System.Text;
using EnrichmentRelay.IntegrationTests.Infrastructure;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>What the dashboard shows without the admin key, and where its unlock form may send you.</summary>
[Collection(RelayCollection.Name)]
public sealed class DashboardAccessTests
{
    const string Marker = "lead-data-marker-3f6b1c2e";

    [Fact]
    public async Task WithoutTheKeyTheOverviewShowsNoMessageContentAndTheUnlockFormOnlyRedirectsLocally()
    {
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite);
        // An unreadable message holding lead data: a dead letter whose preview would show it.
        await scenario.Bus.PublishRawBytesAsync([Encoding.UTF8.GetBytes($$"""{"requestId": "{{Marker}}", "lead": {"lastName": "{{Marker}}" """)]);
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() })
        {
            BaseAddress = scenario.Relay.BaseAddress,
        };
        await Eventually.ReturnsAsync(() => browser.GetStringAsync("/"), page => page.Contains("id=\"dead-letters-pending\">1<"), TimeSpan.FromSeconds(30),
            "the dead letter on the overview");

        Assert.DoesNotContain(Marker, await browser.GetStringAsync("/"));

        // Only a path on this site is followed after unlocking, however it is dressed up.
        foreach (var elsewhere in new[] { "//evil.example/", "/\\evil.example", "/\t/evil.example", "https://evil.example/" })
        {
            using var tricked = await UnlockAsync(browser, elsewhere);
            Assert.Equal(HttpStatusCode.Redirect, tricked.StatusCode);
            Assert.Equal("/", tricked.Headers.Location?.OriginalString);
        }
        using (var wrong = await browser.PostAsync("/dashboard/unlock", Form(("key", "not-the-key"), ("returnUrl", "/"))))
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        // Unlocked (the cookie from above), the message is there to read.
        Assert.Contains(Marker, await browser.GetStringAsync("/"));
    }

    static Task<HttpResponseMessage> UnlockAsync(HttpClient browser, string returnUrl) =>
        browser.PostAsync("/dashboard/unlock", Form(("key", RelayScenario.AdminKey), ("returnUrl", returnUrl)));

    static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)));
}
