using System.Net.Http.Json;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// One test's world: the Precept sandbox (in this process, over real HTTP), a virtual host of its own
/// on the test broker, a fresh database, the relay as a child process, and a producer/subscriber bus.
/// </summary>
public sealed class RelayScenario : IAsyncDisposable
{
    public const string PreceptKey = "it-precept-key";
    public const string WoodpeckerKey = "it-woodpecker-key";
    public const string LanceKey = "it-lance-key";
    public const string AdminKey = "it-admin-key-0123456789abcdefghijklmnop";
    /// <summary>Relay:ClientApiKey: the relay runs on RabbitMQ, which needs its intake protected. <see cref="RelayProcess.Http"/> sends it.</summary>
    public const string ClientKey = "it-client-key-0123456789abcdefghijklmno";

    public required SandboxServer Sandbox { get; init; }
    public required RelayProcess Relay { get; set; }
    public required IReadOnlyDictionary<string, string> Settings { get; init; }
    public required TestBus Bus { get; init; }
    public required TestDatabase Database { get; init; }
    public required string VirtualHost { get; init; }

    /// <param name="port">The relay's port, for settings that must name it (Relay__PublicBaseUrl); any free one by default.</param>
    /// <param name="broker">The test node (default) or the test cluster.</param>
    /// <param name="forVirtualHost">Settings that name the scenario's virtual host (a broker URI), made once it exists.</param>
    /// <param name="postgres">With <see cref="Engine.Postgres"/>: the shared cluster (default) or the outage tests' own.</param>
    public static async Task<RelayScenario> StartAsync(Engine engine, Action<SandboxServer>? arrangeSandbox = null,
        IReadOnlyDictionary<string, string>? settings = null, int? port = null, TestBroker? broker = null,
        Func<string, Task<IReadOnlyDictionary<string, string>>>? forVirtualHost = null, TestPostgres? postgres = null)
    {
        broker ??= TestBroker.Node;
        var sandbox = await SandboxServer.StartAsync(new SandboxOptions { PreceptApiKey = PreceptKey, WoodpeckerApiKey = WoodpeckerKey, LanceApiKey = LanceKey });
        arrangeSandbox?.Invoke(sandbox);
        var vhost = await broker.NewVirtualHostAsync();
        var database = await TestDatabase.CreateAsync(engine, postgres);

        var all = new Dictionary<string, string>(broker.RelaySettings(vhost))
        {
            ["Admin__ApiKey"] = AdminKey,
            ["Relay__ClientApiKey"] = ClientKey,
            ["Sandbox__Enabled"] = "false",
            ["Providers__Precept__BaseUrl"] = sandbox.BaseAddress.ToString(),
            ["Providers__Precept__ApiKey"] = PreceptKey,
            ["Providers__Precept__FlushWindow"] = "00:00:00.500",
            ["Providers__Woodpecker__BaseUrl"] = new Uri(sandbox.BaseAddress, "rest/").ToString(),
            ["Providers__Woodpecker__ApiKey"] = WoodpeckerKey,
            ["Providers__Woodpecker__FlushWindow"] = "00:00:00.500",
            ["Providers__Woodpecker__PollInterval"] = "00:00:00.500",
            ["Providers__Woodpecker__MaxPollInterval"] = "00:00:02",
            ["Providers__Lance__BaseUrl"] = sandbox.BaseAddress.ToString(),
            ["Providers__Lance__ApiKey"] = LanceKey,
            ["Providers__Lance__FlushWindow"] = "00:00:00.500",
            ["Providers__Lance__PollInterval"] = "00:00:00.500",
        };
        foreach (var (key, value) in database.Settings)
            all[key] = value;
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            all[key] = value;
        if (forVirtualHost is not null)
            foreach (var (key, value) in await forVirtualHost(vhost))
                all[key] = value;

        RelayProcess? relay = null;
        try
        {
            relay = await RelayProcess.StartAsync(all, port);
            var bus = await TestBus.StartAsync(vhost, broker);
            return new RelayScenario { Sandbox = sandbox, Relay = relay, Bus = bus, Database = database, Settings = all, VirtualHost = vhost };
        }
        catch
        {
            if (relay is not null)
                await relay.DisposeAsync();
            await sandbox.DisposeAsync();
            throw;
        }
    }

    /// <summary>Instances started beside <see cref="Relay"/>, on the same broker and database (PostgreSQL).</summary>
    public List<RelayProcess> OtherInstances { get; } = [];

    /// <summary>One more relay instance sharing this scenario's vhost, database and sandbox.</summary>
    public async Task<RelayProcess> StartAnotherInstanceAsync(int? port = null)
    {
        var instance = await RelayProcess.StartAsync(Settings, port);
        OtherInstances.Add(instance);
        return instance;
    }

    /// <summary>
    /// The relay's promise, checked: each request has one outcome (any re-published copy is the same event),
    /// <paramref name="expected"/> when given, and no lead was submitted to, or charged by, any provider twice.
    /// </summary>
    public void AssertEachCompletedOnceAndChargedOnce(IReadOnlyCollection<EnrichmentRequested> requests)
    {
        Assert.All(requests, r => Assert.Single(Bus.Completions[r.RequestId].Select(c => (c.EventId, c.Outcome)).Distinct()));
        // Every lead of these runs is findable: anything but Found would be a result lost on the way.
        Assert.All(requests, r => Assert.Equal(Outcome.Found, Bus.Completions[r.RequestId].First().Outcome));
        // Each lead went to its provider exactly once: none left out, none twice.
        Assert.Equal(requests.Count(r => r.Lead!.WoodpeckerLead is null && r.Lead.LancePersonId is null), Sandbox.Precept.Counters.LeadSubmissions.Count);
        Assert.Equal(requests.Count(r => r.Lead!.WoodpeckerLead is not null), Sandbox.Woodpecker.Counters.LeadSubmissions.Count);
        Assert.Equal(requests.Where(r => r.Lead!.LancePersonId is not null).Sum(r => r.Fields!.Count), Sandbox.Lance.Counters.Charges.Count);
        Assert.All(Sandbox.Precept.Counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
        Assert.All(Sandbox.Woodpecker.Counters.LeadSubmissions.Values, n => Assert.Equal(1, n));
        Assert.All(Sandbox.Lance.Counters.Charges.Values, n => Assert.Equal(1, n));
        Assert.All(Sandbox.Lance.Counters.Submissions.Values, n => Assert.Equal(1, n));
    }

    /// <summary>
    /// Waits for every request's completion doing what an operator does with a Precept job parked as needing attention
    /// (its submit's answer lost and Precept not showing it): sends it again, here only once the sandbox confirms
    /// Precept never created it, as a kill or an outage can land between recording the submit and the POST reaching
    /// Precept. A parked job Precept does hold fails the test: the relay should have found it. Returns the jobs resent.
    /// </summary>
    public async Task<int> WaitForCompletionsResendingWhatPreceptNeverGotAsync(IReadOnlyCollection<EnrichmentRequested> requests, TimeSpan deadline)
    {
        var resent = new HashSet<Guid>();
        await Eventually.ReturnsAsync(async () =>
        {
            var completed = requests.Count(r => Bus.CompletionCount(r.RequestId) > 0);
            if (completed < requests.Count)
                await ResendParkedAsync(resent);
            return completed;
        }, completed => completed == requests.Count, deadline, $"completions of {requests.Count} requests (last seen: how many had one)");
        return resent.Count;
    }

    async Task ResendParkedAsync(HashSet<Guid> resent)
    {
        using var list = new HttpRequestMessage(HttpMethod.Get, "admin/jobs");
        list.Headers.Add("X-Api-Key", AdminKey);
        using var answer = await Relay.Http.SendAsync(list);
        if (!answer.IsSuccessStatusCode)
            return; // the relay may be restarting; asked again on the next probe
        var page = await answer.Content.ReadFromJsonAsync<JsonElement>();
        foreach (var job in page.GetProperty("items").EnumerateArray())
        {
            var id = job.GetProperty("id").GetGuid();
            var name = job.GetProperty("name").GetString();
            Assert.Equal("precept", job.GetProperty("provider").GetString());
            Assert.DoesNotContain(Sandbox.Precept.Jobs, j => j.Name == name); // parked although Precept holds it: a lost job
            if (!resent.Add(id))
                continue;
            using var resend = new HttpRequestMessage(HttpMethod.Post, $"admin/jobs/{id}/resend");
            resend.Headers.Add("X-Api-Key", AdminKey);
            using var done = await Relay.Http.SendAsync(resend);
            Assert.Equal(System.Net.HttpStatusCode.OK, done.StatusCode);
        }
    }

    /// <summary>kill -9 the relay and start it again on the same port, database and broker. Returns the killed one (its log stays readable).</summary>
    public async Task<RelayProcess> CrashAndRestartRelayAsync()
    {
        var port = Relay.Port;
        var killed = Relay;
        await killed.KillAsync();
        Relay = await RelayProcess.StartAsync(Settings, port);
        return killed;
    }

    /// <summary>Starts the relay again, on the same port, database and broker, once it has stopped.</summary>
    public async Task RestartRelayAsync()
    {
        var port = Relay.Port;
        await Relay.DisposeAsync();
        Relay = await RelayProcess.StartAsync(Settings, port);
    }

    public async ValueTask DisposeAsync()
    {
        await Bus.DisposeAsync();
        await Relay.DisposeAsync();
        foreach (var instance in OtherInstances)
            await instance.DisposeAsync();
        await Sandbox.DisposeAsync();
        Database.Delete();
    }
}
