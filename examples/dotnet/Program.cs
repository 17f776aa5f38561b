// Publishes one EnrichmentRequested with MassTransit and waits for its EnrichmentCompleted.
//
//   AMQP_URL=amqp://user:password@localhost:5672/ dotnet run --project examples/dotnet
//
// The relay must be running on the same broker (and virtual host, the URL's path). Exit code 0 once the
// completion arrives, 1 when it does not within TIMEOUT_SECONDS (default 60).
using EnrichmentRelay.Contracts;
using MassTransit;

var url = new Uri(Environment.GetEnvironmentVariable("AMQP_URL") ?? "amqp://guest:guest@localhost:5672/");
var timeout = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("TIMEOUT_SECONDS") ?? "60"));
var requestId = Guid.NewGuid(); // your idempotency key: the same id twice is one enrichment, one charge, one completion
var completion = new TaskCompletionSource<EnrichmentCompleted>(TaskCreationOptions.RunContinuationsAsynchronously);

var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
{
    var credentials = url.UserInfo.Split(':', 2);
    var virtualHost = url.AbsolutePath.Trim('/') is { Length: > 0 } path ? Uri.UnescapeDataString(path) : "/";
    cfg.Host(url.Host, (ushort)(url.Port > 0 ? url.Port : 5672), virtualHost, h =>
    {
        h.Username(Uri.UnescapeDataString(credentials[0]));
        h.Password(credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : "");
    });
    // A real subscriber has a durable queue named for its service (cfg.ReceiveEndpoint("my-service", …));
    // this one goes away with the example. Either way MassTransit binds it to EnrichmentCompleted's exchange.
    cfg.ReceiveEndpoint(new TemporaryEndpointDefinition(), endpoint => endpoint.Handler<EnrichmentCompleted>(context =>
    {
        if (context.Message.RequestId == requestId)
            completion.TrySetResult(context.Message);
        return Task.CompletedTask;
    }));
});

// Started (and so subscribed) before publishing, so the completion cannot be missed.
await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
try
{
    await bus.Publish(new EnrichmentRequested
    {
        RequestId = requestId,
        Lead = new Lead { FirstName = "Jane", LastName = "Doe", CompanyName = "Acme", CompanyDomain = "acme.com" },
        Fields = [EnrichmentField.Email, EnrichmentField.Phone],
        CorrelationData = new Dictionary<string, string> { ["example"] = "dotnet" },
    });
    Console.WriteLine($"published EnrichmentRequested {requestId}");

    var completed = await completion.Task.WaitAsync(timeout);
    Console.WriteLine($"completed {completed.RequestId}: outcome={Wire(completed.Outcome)} provider={completed.Provider?.ToString().ToLowerInvariant()} " +
                      $"emails=[{string.Join(",", completed.Emails)}] phones=[{string.Join(",", completed.Phones)}] detail={completed.Detail}");
    return 0;
}
catch (TimeoutException)
{
    Console.Error.WriteLine($"no EnrichmentCompleted for {requestId} within {timeout.TotalSeconds:0} s");
    return 1;
}
finally
{
    await bus.StopAsync();
}

// The outcome as it travels on the wire ("notFound"), the same in every example.
static string Wire(Outcome outcome) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(outcome.ToString());
