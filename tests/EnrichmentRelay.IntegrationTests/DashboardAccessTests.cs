using System.Net;
using System.Text;
using EnrichmentRelay.IntegrationTests.Infrastructure;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>What the dashboard shows without the admin key, and where its unlock form may send you.</summary>
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
        using (var wrong = await browser.PostAsync("/dashboard/unlock", Form(("key", "not-the-key"), ("returnUrl", "/"), await FormTokenAsync(browser))))
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        // The right key without the page's form token (a form posted from another site) unlocks nothing.
        using (var forged = await browser.PostAsync("/dashboard/unlock", Form(("key", RelayScenario.AdminKey), ("returnUrl", "/"))))
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);

        // Unlocked (the cookie from above), the message is there to read.
        Assert.Contains(Marker, await browser.GetStringAsync("/"));
    }

    [Fact]
    public async Task TheUnlockCookieIsSecureWhenThePublicAddressIsHttps()
    {
        // Behind a proxy that ends TLS the relay itself sees plain http; the browser is on https.
        await using var scenario = await RelayScenario.StartAsync(Engine.Sqlite,
            settings: new Dictionary<string, string> { ["Relay__PublicBaseUrl"] = "https://relay.example.com/" });
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = scenario.Relay.BaseAddress };

        using var page = await browser.GetAsync("/dashboard/unlock");
        var antiforgeryCookie = page.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using var unlock = new HttpRequestMessage(HttpMethod.Post, "/dashboard/unlock")
        {
            Content = Form(("key", RelayScenario.AdminKey), ("returnUrl", "/"), TokenIn(await page.Content.ReadAsStringAsync())),
            Headers = { { "Cookie", antiforgeryCookie } },
        };
        using var unlocked = await browser.SendAsync(unlock);

        Assert.Equal(HttpStatusCode.Redirect, unlocked.StatusCode);
        var cookie = Assert.Single(unlocked.Headers.GetValues("Set-Cookie"), c => c.StartsWith("relay-dashboard=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; httponly", cookie, StringComparison.OrdinalIgnoreCase);
    }

    static async Task<HttpResponseMessage> UnlockAsync(HttpClient browser, string returnUrl) =>
        await browser.PostAsync("/dashboard/unlock", Form(("key", RelayScenario.AdminKey), ("returnUrl", returnUrl), await FormTokenAsync(browser)));

    /// <summary>The antiforgery field of the unlock page, as a browser would post it back (its cookie goes with the client).</summary>
    static async Task<(string Name, string Value)> FormTokenAsync(HttpClient browser) => TokenIn(await browser.GetStringAsync("/dashboard/unlock"));

    static (string Name, string Value) TokenIn(string html)
    {
        var field = System.Text.RegularExpressions.Regex.Match(html, "<input type=\"hidden\" name=\"(?<name>__RequestVerificationToken[^\"]*)\" value=\"(?<value>[^\"]+)\"");
        Assert.True(field.Success, "the unlock form carries an antiforgery token");
        return (field.Groups["name"].Value, System.Net.WebUtility.HtmlDecode(field.Groups["value"].Value));
    }

    static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)));
}
