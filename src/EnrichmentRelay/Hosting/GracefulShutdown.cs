using MassTransit;
using Microsoft.Extensions.Options;

namespace EnrichmentRelay.Hosting;

/// <summary>
/// A background loop that stops gracefully. When the host starts to stop (SIGTERM, Ctrl+C), every such loop
/// stops starting new rounds at once, before any hosted service is stopped, so no new provider submit or
/// poll begins while the others drain; the round in progress finishes (a submit and the recording of its
/// answer, outbox rows already read, a callback being applied). Its token is cancelled only when the host's
/// <see cref="HostOptions.ShutdownTimeout"/> runs out; what is cut then is safe (a submit of unknown fate
/// is reconciled, an unconfirmed outbox row is published again), just not graceful.
/// </summary>
public abstract class DrainingBackgroundService : BackgroundService, IHostedLifecycleService
{
    readonly CancellationTokenSource stopTakingWork = new();
    readonly CancellationTokenSource abandonWork = new();

    /// <param name="stopping">Cancelled when the host starts to stop: start nothing new, stop waiting.</param>
    /// <param name="working">For work in progress: cancelled only when the shutdown timeout runs out.</param>
    protected abstract Task RunAsync(CancellationToken stopping, CancellationToken working);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, stopTakingWork.Token);
        await RunAsync(stopping.Token, abandonWork.Token);
    }

    // The host calls StoppingAsync on every lifecycle service before it stops the first one.
    Task IHostedLifecycleService.StoppingAsync(CancellationToken cancellationToken) => stopTakingWork.CancelAsync();

    /// <summary>Waits for the round in progress; <paramref name="cancellationToken"/> is the host's shutdown deadline.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopTakingWork.CancelAsync();
        await using var deadline = cancellationToken.Register(abandonWork.Cancel);
        await base.StopAsync(cancellationToken);
    }

    Task IHostedLifecycleService.StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    Task IHostedLifecycleService.StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    Task IHostedLifecycleService.StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Dispose()
    {
        base.Dispose();
        stopTakingWork.Dispose();
        abandonWork.Dispose();
    }
}

public static class GracefulShutdownExtensions
{
    /// <summary>
    /// The stop budget (<see cref="RelayOptions.ShutdownTimeout"/>) for the whole host. Hosted services stop in
    /// reverse registration order: the HTTP server first, then the background loops (see
    /// <see cref="DrainingBackgroundService"/>), then the bus, which the outbox needs until it has drained.
    /// </summary>
    public static IHostApplicationBuilder AddGracefulShutdown(this IHostApplicationBuilder builder)
    {
        // Read as configured, not through the validated options: the host reads HostOptions while it is being
        // built, before the settings check has had the chance to report every wrong setting at once.
        var timeout = (builder.Configuration.GetSection(RelayOptions.Section).Get<RelayOptions>() ?? new RelayOptions()).ShutdownTimeout;
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = timeout);
        // MassTransit cancels a running consumer (a poll mid-call) at once on stop unless given time. The bus
        // stops last, with what the loops left of the budget: half of it lets consumers finish and still
        // leaves time to close the broker connection before the host gives up.
        builder.Services.Configure<MassTransitHostOptions>(bus => bus.ConsumerStopTimeout = timeout / 2);
        return builder;
    }
}
