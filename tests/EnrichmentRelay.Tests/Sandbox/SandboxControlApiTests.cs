using System.Net;
using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox.Precept;
using static EnrichmentRelay.Tests.Sandbox.PreceptHost;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>The unauthenticated control API a standalone sandbox is driven with.</summary>
public sealed class SandboxControlApiTests : IAsyncLifetime
{
    PreceptHost host = null!;
    HttpClient control = null!;

    PreceptSimulator Precept => host.Precept;

    public async Task InitializeAsync()
    {
        host = await StartAsync();
        control = new HttpClient { BaseAddress = host.Server.BaseAddress };
    }

    public async Task DisposeAsync()
    {
        control.Dispose();
        await host.DisposeAsync();
    }

    [Fact]
    public async Task SettingsUpdateChangesOnlyTheFieldsGiven()
    {
        using var response = await control.PostAsync("sandbox/precept/settings",
            Json("""{"credits":50,"defaultOutcome":"noContact","processingDelayMs":10,"contactFieldNaming":"camel","defaultWebhookUrl":"http://127.0.0.1:9/hook"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var settings = await ReadAsync(response);
        Assert.Equal(("noContact", "camel", 0), ((string?)settings["defaultOutcome"], (string?)settings["contactFieldNaming"], (int)settings["duplicateDeliveries"]!));
        Assert.Equal(50m, Precept.Settings.Credits);
        Assert.Equal(TimeSpan.FromMilliseconds(10), Precept.Settings.ProcessingDelay);
        Assert.Equal(TimeSpan.FromMilliseconds(20), Precept.Settings.WebhookRetryBaseDelay); // untouched

        using var cleared = await control.PostAsync("sandbox/precept/settings", Json("""{"defaultWebhookUrl":""}"""));
        Assert.Null(Precept.Settings.DefaultWebhookUrl);
    }

    [Fact]
    public async Task JobsAreHeldOpenAndReleasedThroughTheControlApi()
    {
        using var hold = await control.PostAsync("sandbox/precept/settings", Json("""{"holdJobsOpen":true}"""));
        Assert.True((bool)(await ReadAsync(hold))["holdJobsOpen"]!);
        Assert.True(Precept.Settings.HoldJobsOpen);
        var id = await host.SubmitForIdAsync(Body([Person("Ada", "Lovelace", "r1")]));
        await Eventually.ReturnsAsync(() => Precept.Jobs.Single(), j => j.HeldOpen, "the job to end held open");

        using var release = await control.PostAsync("sandbox/precept/settings", Json("""{"holdJobsOpen":false}"""));

        Assert.False((bool)(await ReadAsync(release))["holdJobsOpen"]!);
        Assert.Equal("completed", (string?)(await host.GetJobAsync(id))["status"]);
    }

    [Theory]
    [InlineData("""{"processingDelayMs":-1}""", "processingDelayMs")]
    [InlineData("""{"defaultWebhookUrl":"ftp://example.com"}""", "defaultWebhookUrl")]
    [InlineData("""{"processingDelay":10}""", "body")]     // unknown field: a typo is not a silent no-op
    [InlineData("""{"defaultOutcome":"lost"}""", "body")]
    [InlineData("""{"defaultOutcome":3}""", "body")]       // enums by name only
    [InlineData("""{"credits":""", "body")]
    public async Task BadSettingsAreA400ProblemAndChangeNothing(string body, string field)
    {
        using var response = await control.PostAsync("sandbox/precept/settings", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await ReadAsync(response))["errors"]!.AsObject().ContainsKey(field));
        Assert.Equal(TimeSpan.FromMilliseconds(50), Precept.Settings.ProcessingDelay);
        Assert.Equal(LeadOutcome.Found, Precept.Settings.DefaultOutcome);
    }

    [Theory]
    [InlineData("https%3A%2F%2Flinkedin.com%2Fin%2Fada")]
    [InlineData("https://linkedin.com/in/ada")]
    public async Task OutcomeCanBeSetForALinkedInUrlKey(string path)
    {
        using var response = await control.PutAsync($"sandbox/precept/outcomes/{path}", Json("""{"outcome":"notFound"}"""));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        var job = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(Body([new { linkedinUrl = "https://linkedin.com/in/ada" }])), "completed");

        Assert.Equal("Lead not found", (string?)job["results"]![0]!["error"]);
    }

    [Fact]
    public async Task OutcomeWithoutAValueIsA400Problem()
    {
        using var response = await control.PutAsync("sandbox/precept/outcomes/Smith", Json("{}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadAsync(response))["errors"]!.AsObject().ContainsKey("outcome"));
    }

    [Fact]
    public async Task FaultsCanBeInjectedOverHttp()
    {
        using var set = await control.PostAsync("sandbox/precept/faults", Json("""{"failNextSubmits":1,"statusCode":503,"failNextJobs":1}"""));
        Assert.Equal(HttpStatusCode.NoContent, set.StatusCode);

        using var refused = await host.PostEnrichAsync(Body([Person("Ada", "Lovelace", "r1")]));
        var failed = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(Body([Person("Ada", "Lovelace", "r1")])), "failed");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Empty(failed["results"]!.AsArray());
    }

    [Fact]
    public async Task FaultWithANonErrorStatusIsA400Problem()
    {
        using var response = await control.PostAsync("sandbox/precept/faults", Json("""{"failNextSubmits":1,"statusCode":200}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadAsync(response))["errors"]!.AsObject().ContainsKey("statusCode"));
    }

    [Fact]
    public async Task CountersAndJobsAreReadableAndResetForgetsEverything()
    {
        Precept.Settings.Credits = 100;
        Precept.SetOutcome("Lovelace", LeadOutcome.Skipped);
        var id = await host.SubmitForIdAsync(Body([Person("Ada", "Lovelace", "r1")]));

        using var counters = await control.GetAsync("sandbox/precept/counters");
        using var jobs = await control.GetAsync("sandbox/precept/jobs");
        var counted = await ReadAsync(counters);
        Assert.Equal((1, 1), ((int)counted["submitCalls"]!, (int)counted["leadSubmissions"]!["ada lovelace @ acme.com"]!));
        Assert.Equal(id, (string?)JsonNode.Parse(await jobs.Content.ReadAsStringAsync())![0]!["enrichmentId"]);

        using var reset = await control.PostAsync("sandbox/reset", null);

        Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        Assert.Empty(Precept.Jobs);
        Assert.Equal(0, Precept.Counters.SubmitCalls);
        Assert.Equal(1_000_000m, Precept.Settings.Credits);
        var after = await host.WaitForJobStatusAsync(await host.SubmitForIdAsync(Body([Person("Ada", "Lovelace", "r1")])), "completed");
        Assert.Single(after["results"]!.AsArray()); // the scripted outcome went too
    }
}
