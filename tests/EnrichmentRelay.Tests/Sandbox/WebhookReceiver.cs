using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>A second small Kestrel app on a free loopback port that records every webhook POST it gets.</summary>
sealed class WebhookReceiver : IAsyncDisposable
{
    readonly WebApplication app;
    readonly ConcurrentQueue<Delivery> deliveries = new();
    int failuresLeft;

    /// <param name="Status">What the receiver answered.</param>
    /// <param name="At">Since the receiver started.</param>
    public sealed record Delivery(string Path, JsonObject Body, int Status, TimeSpan At, IReadOnlyList<string> HeaderNames);

    WebhookReceiver(WebApplication app) => this.app = app;

    public Uri BaseAddress { get; private set; } = null!;
    public IReadOnlyList<Delivery> Deliveries => deliveries.ToArray();

    /// <summary>The next <paramref name="count"/> POSTs are answered 500.</summary>
    public void FailNext(int count) => Volatile.Write(ref failuresLeft, count);

    public string Url(string path = "hook") => new Uri(BaseAddress, path).ToString();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        var started = Stopwatch.GetTimestamp();
        app.MapPost("/{**path}", async (HttpRequest request, string path) =>
        {
            var body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
            var status = Interlocked.Decrement(ref receiver.failuresLeft) >= 0 ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK;
            receiver.deliveries.Enqueue(new Delivery(path, body, status, Stopwatch.GetElapsedTime(started), request.Headers.Keys.ToList()));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        receiver.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        return receiver;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
