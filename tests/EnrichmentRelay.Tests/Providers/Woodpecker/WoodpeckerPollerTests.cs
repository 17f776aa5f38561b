using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Sandbox;
using EnrichmentRelay.Sandbox.Woodpecker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Tests.Providers.Woodpecker;

/// <summary>
/// The poller against the Woodpecker sandbox on loopback, both on one fake clock, so days can pass in a test.
/// </summary>
public sealed class WoodpeckerPollerTests : IAsyncLifetime
{
    SandboxServer sandbox = null!;
    LedgerTestHost host = null!;
    readonly WoodpeckerOptions options = new()
    {
        ApiKey = "k",
        FlushWindow = TimeSpan.Zero,
        PollInterval = TimeSpan.FromSeconds(30),
        Deadline = TimeSpan.FromHours(48),
    };

    public async Task InitializeAsync()
    {
        host = new LedgerTestHost((services, time) =>
        {
            services.AddSingleton(Options.Create(options));
            services.AddHttpClient<WoodpeckerClient>(http =>
            {
                http.BaseAddress = options.BaseUrl;
                http.DefaultRequestHeaders.Add("x-api-key", options.ApiKey);
            });
            services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
            services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
            services.AddScoped<WoodpeckerPoller>();
        });
        sandbox = await SandboxServer.StartAsync(new SandboxOptions { WoodpeckerApiKey = "k", TimeProvider = host.Time });
        options.BaseUrl = new Uri(sandbox.BaseAddress, "rest/");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        await sandbox.DisposeAsync();
    }

    [Fact]
    public async Task BatchOlderThanTheListsDefaultWindowIsStillFound()
    {
        sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromHours(30);
        var request = await SubmitLeadAsync("uid-old");

        host.Time.Advance(TimeSpan.FromHours(31));
        await PollAsync();

        var completed = await CompletedAsync(request);
        Assert.Equal(Outcome.Found, completed.Outcome);
        Assert.Equal("erlich.bachman@bachmanity.com", Assert.Single(LedgerViews.ReadList(completed.EmailsJson)));
        Assert.Equal(1.5m, completed.CreditsCharged);
    }

    [Fact]
    public async Task ConvertedLeadWhoseProspectIsNotVisibleYetIsTriedAgainNextTick()
    {
        sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromSeconds(10);
        sandbox.Woodpecker.Settings.ProspectVisibilityDelay = TimeSpan.FromMinutes(2);
        var request = await SubmitLeadAsync("uid-late");

        host.Time.Advance(TimeSpan.FromSeconds(30));
        await PollAsync();
        Assert.Equal(RequestState.Submitted, (await CompletedAsync(request)).State);

        host.Time.Advance(TimeSpan.FromMinutes(3));
        await PollAsync();
        Assert.Equal(Outcome.Found, (await CompletedAsync(request)).Outcome);
    }

    [Fact]
    public async Task OpenRequestTimesOutAtTheDeadline()
    {
        sandbox.Woodpecker.Settings.ProcessingDelay = TimeSpan.FromDays(5);
        var request = await SubmitLeadAsync("uid-slow");

        host.Time.Advance(options.Deadline + TimeSpan.FromMinutes(1));
        await PollAsync();

        var completed = await CompletedAsync(request);
        Assert.Equal(Outcome.TimedOut, completed.Outcome);
        Assert.Equal(1, sandbox.Woodpecker.Counters.LeadSubmitCalls);
    }

    [Fact]
    public void OlderBatchesArePolledLessOftenButNeverSlowerThanTheCap()
    {
        var poller = host.Services.CreateScope().ServiceProvider.GetRequiredService<WoodpeckerPoller>();

        var young = poller.PollGap(TimeSpan.FromMinutes(1));
        var hourOld = poller.PollGap(TimeSpan.FromHours(2));
        var dayOld = poller.PollGap(TimeSpan.FromDays(1));

        Assert.True(young <= options.PollInterval);
        Assert.True(hourOld > young);
        Assert.True(dayOld >= hourOld);
        Assert.True(dayOld <= options.MaxPollInterval);
    }

    async Task<EnrichmentRequested> SubmitLeadAsync(string uid)
    {
        var payload = $$"""{"uid":"{{uid}}","full_name":"Erlich Bachman","first_name":"Erlich","last_name":"Bachman","linkedin_url":"linkedin.com/in/erlich-bachman-404xyz","company_name":"Bachmanity","company_website":"bachmanity.com"}""";
        var request = new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { WoodpeckerLead = JsonDocument.Parse(payload).RootElement.Clone() },
            Fields = [EnrichmentField.Email],
        };
        Assert.Equal(EnrichmentRelay.Requests.IntakeResult.Accepted, await host.ReceiveAsync(request));
        await host.Services.GetRequiredService<BatchFlusher>().FlushAsync(WoodpeckerLeads.LeadsLane, CancellationToken.None);
        Assert.Equal(ProviderJobState.Submitted, Assert.Single(await host.JobsAsync()).State);
        return request;
    }

    Task PollAsync() => host.InScopeAsync(async sp =>
    {
        await sp.GetRequiredService<WoodpeckerPoller>().PollAsync(CancellationToken.None);
        return 0;
    });

    async Task<EnrichmentRequestRecord> CompletedAsync(EnrichmentRequested request) =>
        (await host.RequestsAsync()).Single(r => r.RequestId == request.RequestId);
}
