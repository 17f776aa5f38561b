using System.Collections.Concurrent;
using EnrichmentRelay.Contracts;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Providers;

public sealed class ProviderPauseOptions
{
    public const string Section = "Providers:Pause";

    /// <summary>How long after a provider refused its key (or its address) the relay tries it again; doubled per refusal.</summary>
    public TimeSpan FirstProbe { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between two tries of a paused provider.</summary>
    public TimeSpan MaxProbe { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// A provider that answers 401 or 403 (a wrong or rotated key), or 404 to a submit (a wrong address), has not
/// refused the leads: it refused the relay. Failing the backlog for it would be wrong, so the provider is paused
/// instead: its requests stay waiting, its polls rest, <c>/health/ready</c> says so, and every so often one call
/// goes through as a probe; the first call that works resumes it. Per instance: each finds out by its own calls.
/// </summary>
public sealed class ProviderPauses(IOptions<ProviderPauseOptions> options, TimeProvider time, RelayMetrics metrics, ILogger<ProviderPauses> logger)
{
    /// <param name="Refusals">How many times in a row the provider refused: the first call, then each probe.</param>
    /// <param name="Probing">A probe was let through and has not been answered yet.</param>
    public sealed record Pause(string Reason, DateTimeOffset Since, DateTimeOffset ProbeAt, int Refusals, bool Probing = false);

    readonly ConcurrentDictionary<ProviderName, Pause> paused = new();

    public IReadOnlyDictionary<ProviderName, Pause> Current => paused;

    public bool IsPaused(ProviderName provider) => paused.ContainsKey(provider);

    /// <summary>The provider refused the relay itself; logged once per pause, however often it repeats.</summary>
    public void Refused(ProviderName provider, string reason)
    {
        var now = time.GetUtcNow();
        // Several calls can report one refusal (the client's watch, then the submit's own reading of it): only a
        // refused probe counts as a new one and pushes the next probe further out.
        var started = false;
        var pause = paused.AddOrUpdate(provider,
            _ =>
            {
                started = true;
                return new Pause(reason, now, now + options.Value.FirstProbe, 1);
            },
            (_, was) => was.Probing
                ? was with { Reason = reason, ProbeAt = now + Wait(was.Refusals + 1), Refusals = was.Refusals + 1, Probing = false }
                : was with { Reason = reason });
        if (started)
        {
            metrics.ProviderPaused(provider, true);
            logger.LogError("{Provider} is paused: {Reason}. Its requests wait; it is tried again every {Wait} at most",
                provider, reason, options.Value.MaxProbe);
        }
    }

    /// <summary>A call to the provider worked: a pause ends.</summary>
    public void Worked(ProviderName provider)
    {
        if (paused.TryRemove(provider, out var was))
        {
            metrics.ProviderPaused(provider, false);
            logger.LogWarning("{Provider} works again after a pause of {Duration}; its waiting requests go out", provider, time.GetUtcNow() - was.Since);
        }
    }

    /// <summary>
    /// True while the provider is paused and its next probe is not due. When it is due, one caller is let through
    /// (the probe) and the next probe is scheduled, so a provider still refusing is asked again only now and then.
    /// </summary>
    public bool Holds(ProviderName provider)
    {
        if (!paused.TryGetValue(provider, out var pause))
            return false;
        var now = time.GetUtcNow();
        if (now < pause.ProbeAt)
            return true;
        // Only the caller that moves the probe time on gets to probe.
        return !paused.TryUpdate(provider, pause with { ProbeAt = now + Wait(pause.Refusals), Probing = true }, pause);
    }

    /// <summary>How long until a paused provider may be tried again (zero when not paused).</summary>
    public TimeSpan UntilProbe(ProviderName provider) =>
        paused.TryGetValue(provider, out var pause) && pause.ProbeAt > time.GetUtcNow() ? pause.ProbeAt - time.GetUtcNow() : TimeSpan.Zero;

    TimeSpan Wait(int refusals)
    {
        var wait = options.Value.FirstProbe * Math.Pow(2, Math.Min(refusals - 1, 16));
        return wait < options.Value.MaxProbe ? wait : options.Value.MaxProbe;
    }
}

/// <summary>Watches every answer of a provider's client: 401 and 403 pause the provider, a success resumes it.</summary>
public sealed class ProviderPauseWatch(ProviderName provider, ProviderPauses pauses) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var response = await base.SendAsync(request, ct);
        if (response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
            pauses.Refused(provider, $"{provider} answered {(int)response.StatusCode} to {request.Method} {request.RequestUri?.AbsolutePath}: its ApiKey is wrong, expired or lacks a permission");
        else if (response.IsSuccessStatusCode)
            pauses.Worked(provider);
        return response;
    }
}

/// <summary>Ready, but degraded, while a provider is paused: the relay works for the others, and names the one it cannot reach.</summary>
public sealed class ProviderPausesHealthCheck(ProviderPauses pauses) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        var current = pauses.Current;
        if (current.Count == 0)
            return Task.FromResult(HealthCheckResult.Healthy());
        var description = string.Join("; ", current.Select(p => $"{p.Key} paused since {p.Value.Since:O}: {p.Value.Reason}"));
        return Task.FromResult(HealthCheckResult.Degraded(description,
            data: current.ToDictionary(p => RelayMetrics.Tag(p.Key), p => (object)p.Value.Reason)));
    }
}

public static class ProviderPauseExtensions
{
    /// <summary>Call after <see cref="ProviderHttp.AddProviderResilience"/>: each attempt's answer is watched.</summary>
    public static IHttpClientBuilder AddProviderPauseWatch(this IHttpClientBuilder client, ProviderName provider) =>
        client.AddHttpMessageHandler(sp => new ProviderPauseWatch(provider, sp.GetRequiredService<ProviderPauses>()));
}
