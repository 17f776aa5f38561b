using System.Text.Json.Nodes;
using EnrichmentRelay.Sandbox.Precept;
using static EnrichmentRelay.Tests.Sandbox.PreceptHost;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>Webhook callbacks from the simulated Precept, received by a real HTTP endpoint.</summary>
public sealed class PreceptWebhookTests : IAsyncLifetime
{
    PreceptHost host = null!;
    WebhookReceiver receiver = null!;

    PreceptSimulator Precept => host.Precept;

    public async Task InitializeAsync()
    {
        host = await StartAsync();
        receiver = await WebhookReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await receiver.DisposeAsync();
    }

    static object[] TwoLeads => [Person("Ada", "Lovelace", "r1"), Person("Alan", "Turing", "r2")];

    [Fact]
    public async Task CompletedJobIsPostedOnceWithEveryResultAndNoSignature()
    {
        var id = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url("hooks/precept?token=abc")));

        await host.WaitUntilSettledAsync(id);

        var delivery = Assert.Single(receiver.Deliveries);
        Assert.Equal("hooks/precept", delivery.Path);
        Assert.Equal(["enrichment_id", "status", "results"], delivery.Body.Select(p => p.Key));
        Assert.Equal(id, (string?)delivery.Body["enrichment_id"]);
        Assert.Equal("completed", (string?)delivery.Body["status"]);
        Assert.Equal(["r1", "r2"], delivery.Body["results"]!.AsArray().Select(r => (string)r!["custom_data"]!["rid"]!));
        Assert.DoesNotContain(delivery.HeaderNames, h => h.Contains("sign", StringComparison.OrdinalIgnoreCase));
        Assert.Equal((1, 1), (Precept.Counters.WebhookAttempts, Precept.Counters.WebhookDeliveries));
    }

    [Fact]
    public async Task FailedDeliveryIsRetriedUntilItSucceeds()
    {
        Precept.Settings.WebhookRetryBaseDelay = TimeSpan.FromMilliseconds(50);
        receiver.FailNext(2);

        var job = await host.WaitUntilSettledAsync(await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url())));

        var attempts = receiver.Deliveries;
        Assert.Equal([500, 500, 200], attempts.Select(a => a.Status));
        Assert.All(attempts, a => Assert.True(JsonNode.DeepEquals(attempts[0].Body, a.Body)));
        Assert.Equal((3, 1, 0), (Precept.Counters.WebhookAttempts, Precept.Counters.WebhookDeliveries, job.WebhooksAbandoned));
    }

    [Fact]
    public async Task DeliveryIsAbandonedAfterThreeRetriesButResultsStayPollable()
    {
        receiver.FailNext(int.MaxValue);

        var id = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url()));
        var job = await host.WaitUntilSettledAsync(id);

        Assert.Equal(4, receiver.Deliveries.Count);
        Assert.Equal((4, 0, 1), (Precept.Counters.WebhookAttempts, Precept.Counters.WebhookDeliveries, job.WebhooksAbandoned));
        Assert.Equal(2, (await host.GetJobAsync(id))["results"]!.AsArray().Count);
    }

    [Fact]
    public async Task UnreachableWebhookIsRetriedLikeAnError()
    {
        await using var gone = await WebhookReceiver.StartAsync();
        var url = gone.Url(); // a port nobody listens on once it is disposed
        await gone.DisposeAsync();

        var job = await host.WaitUntilSettledAsync(await host.SubmitForIdAsync(Body(TwoLeads, url)));

        Assert.Equal((4, 0, 1), (Precept.Counters.WebhookAttempts, Precept.Counters.WebhookDeliveries, job.WebhooksAbandoned));
    }

    [Fact]
    public async Task DuplicateDeliveriesRepeatTheSameCallback()
    {
        Precept.Settings.DuplicateDeliveries = 2;

        await host.WaitUntilSettledAsync(await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url())));

        var deliveries = receiver.Deliveries;
        Assert.Equal(3, deliveries.Count);
        Assert.All(deliveries, d => Assert.True(JsonNode.DeepEquals(deliveries[0].Body, d.Body)));
        Assert.Equal(3, Precept.Counters.WebhookDeliveries);
    }

    [Fact]
    public async Task StreamingPostsEachLeadAsItFinishesAndNothingElse()
    {
        Precept.SetOutcome("Hopper", LeadOutcome.Skipped);
        object[] leads = [Person("Ada", "Lovelace", "r1"), Person("Grace", "Hopper", "r2"), Person("Alan", "Turing", "r3")];

        var id = await host.SubmitForIdAsync(Body(leads, receiver.Url(), streamingResults: true));
        await host.WaitUntilSettledAsync(id);

        var deliveries = receiver.Deliveries;
        Assert.Equal(["r1", "r3"], deliveries.Select(d => (string)Assert.Single(d.Body["results"]!.AsArray())!["custom_data"]!["rid"]!));
        Assert.All(deliveries, d => Assert.Equal(["enrichment_id", "results"], d.Body.Select(p => p.Key)));
        Assert.All(deliveries, d => Assert.Equal(id, (string?)d.Body["enrichment_id"]));
    }

    [Fact]
    public async Task FailedJobIsPostedAsFailedWithNoResults()
    {
        Precept.FailNextJobs(1);

        var id = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url()));
        await host.WaitUntilSettledAsync(id);

        var body = Assert.Single(receiver.Deliveries).Body;
        Assert.Equal(("failed", id), ((string?)body["status"], (string?)body["enrichment_id"]));
        Assert.Empty(body["results"]!.AsArray());
        Assert.Equal(0m, Precept.Counters.CreditsCharged);
    }

    [Fact]
    public async Task SubmitWithoutWebhookUrlUsesTheDefaultWebhook()
    {
        Precept.Settings.DefaultWebhookUrl = receiver.Url("default");

        var id = await host.SubmitForIdAsync(Body(TwoLeads));
        await host.WaitUntilSettledAsync(id);

        Assert.Equal("default", Assert.Single(receiver.Deliveries).Path);
    }

    [Fact]
    public async Task WithoutAnyWebhookResultsAreOnlyPollable()
    {
        var id = await host.SubmitForIdAsync(Body(TwoLeads));

        var job = await host.WaitUntilSettledAsync(id);

        Assert.Null(job.WebhookUrl);
        Assert.Equal(2, job.Results!.Count);
        Assert.Equal(0, Precept.Counters.WebhookAttempts);
    }

    [Fact]
    public async Task HeldJobLooksUnfinishedAndSendsNothingUntilReleased()
    {
        Precept.Settings.HoldJobsOpen = true;

        var id = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url(), name: "held"));
        // Worked out in full, its callback queued behind the hold.
        var held = await Eventually.ReturnsAsync(() => Precept.Jobs.Single(j => j.EnrichmentId == id), j => j.Status == "completed", $"job {id} to work out its results");

        Assert.True(held.HeldOpen);
        Assert.Equal(["r1", "r2"], held.Results!.Select(r => (string)r["custom_data"]!["rid"]!));
        Assert.Equal(1, held.WebhooksPending);
        var read = await host.GetJobAsync(id);
        Assert.Equal(("processing", 2, 2), ((string?)read["status"], (int)read["progress"]!["completed"]!, (int)read["progress"]!["total"]!));
        Assert.Null(read["results"]);
        Assert.Equal("processing", (string?)(await ListedAsync(id))["status"]);
        Assert.Equal(0, Precept.Counters.WebhookAttempts);
        Assert.Empty(receiver.Deliveries);

        Precept.Settings.HoldJobsOpen = false;

        var released = await host.WaitUntilSettledAsync(id);
        Assert.False(released.HeldOpen);
        read = await host.GetJobAsync(id);
        Assert.Equal(("completed", 2), ((string?)read["status"], read["results"]!.AsArray().Count));
        Assert.Equal("completed", (string?)(await ListedAsync(id))["status"]);
        var delivery = Assert.Single(receiver.Deliveries).Body;
        Assert.Equal(("completed", 2), ((string?)delivery["status"], delivery["results"]!.AsArray().Count));
    }

    [Fact]
    public async Task HoldingKeepsStreamedCallbacksBackAndReleaseSendsNoneWhenWebhooksAreDropped()
    {
        Precept.Settings.HoldJobsOpen = true;
        var streamed = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url(), streamingResults: true));
        var dropped = await host.SubmitForIdAsync(Body([Person("Grace", "Hopper", "r3")], receiver.Url()));
        await Eventually.ReturnsAsync(() => Precept.Jobs, jobs => jobs.All(j => j.HeldOpen), "both jobs to end held open");

        Assert.Equal(2, Precept.Jobs.Single(j => j.EnrichmentId == streamed).WebhooksPending);
        Assert.Empty(receiver.Deliveries);

        Precept.Settings.DropWebhooks = true;
        Precept.Settings.HoldJobsOpen = false;

        await host.WaitUntilSettledAsync(streamed);
        await host.WaitUntilSettledAsync(dropped);
        Assert.Equal("completed", (string?)(await host.GetJobAsync(dropped))["status"]);
        Assert.Empty(receiver.Deliveries);
        Assert.Equal(0, Precept.Counters.WebhookAttempts);
    }

    [Fact]
    public async Task JobThatEndedBeforeTheHoldStaysEnded()
    {
        var id = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url()));
        await host.WaitUntilSettledAsync(id);

        Precept.Settings.HoldJobsOpen = true;

        Assert.False(Precept.Jobs.Single().HeldOpen);
        Assert.Equal("completed", (string?)(await host.GetJobAsync(id))["status"]);
    }

    async Task<JsonObject> ListedAsync(string id)
    {
        using var response = await host.Http.GetAsync("v1/jobs");
        return (await ReadAsync(response))["jobs"]!.AsArray().Single(j => (string?)j!["enrichment_id"] == id)!.AsObject();
    }

    [Fact]
    public async Task DroppedWebhooksAreNeverSent()
    {
        Precept.Settings.DropWebhooks = true;

        var id = await host.SubmitForIdAsync(Body(TwoLeads, receiver.Url()));
        await host.WaitUntilSettledAsync(id);

        Assert.Empty(receiver.Deliveries);
        Assert.Equal(0, Precept.Counters.WebhookAttempts);
        await host.WaitForJobStatusAsync(id, "completed");
    }
}
