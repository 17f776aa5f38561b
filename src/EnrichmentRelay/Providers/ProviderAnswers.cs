using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Providers;

/// <summary>One answer as a provider's client received it (or the failure that stood for one).</summary>
/// <param name="JobId">The job it was read for, when a reader said so (<see cref="ProviderAnswers.ForJob"/>); else every job of the read.</param>
public sealed record CapturedAnswer(ProviderName Provider, string Endpoint, int? Status, string? Body, string? Error, DateTimeOffset At, Guid? JobId);

/// <summary>
/// The answers a provider's clients receive while the job engine listens (a submit, a poll, a callback's verification):
/// every call, with its status and body, so the ledger keeps what each provider said and a request's history shows it.
/// </summary>
public static class ProviderAnswers
{
    /// <summary>Bodies longer than this are kept cut (a page of a thousand prospects says little about one request).</summary>
    public const int MaxBodyChars = 256 * 1024;

    const string CutMark = "… [cut at ";

    /// <summary>Whether a kept body is only the start of what the provider answered (longer than <see cref="MaxBodyChars"/>).</summary>
    public static bool WasCut(string body) =>
        body.Length > MaxBodyChars && body.AsSpan(MaxBodyChars).StartsWith(CutMark, StringComparison.Ordinal) && body.EndsWith(" characters]", StringComparison.Ordinal);

    static readonly AsyncLocal<List<CapturedAnswer>?> sink = new();
    static readonly AsyncLocal<Guid?> job = new();

    /// <summary>Collects the answers received in this async flow until disposed.</summary>
    public static IDisposable Capture(out IReadOnlyList<CapturedAnswer> answers)
    {
        var previous = sink.Value;
        var list = new List<CapturedAnswer>();
        sink.Value = list;
        answers = list;
        return new Restore(() => sink.Value = previous);
    }

    /// <summary>The calls made until disposed are for this job alone (a reader reading its jobs one by one says so).</summary>
    public static IDisposable ForJob(Guid jobId)
    {
        var previous = job.Value;
        job.Value = jobId;
        return new Restore(() => job.Value = previous);
    }

    internal static void Record(ProviderName provider, string endpoint, int? status, string? body, string? error, DateTimeOffset at)
    {
        if (sink.Value is not { } list)
            return;
        // One copy of the kept start (a substring first would copy half a megabyte twice, on the large object heap).
        if (body is { Length: > MaxBodyChars })
            body = string.Concat(body.AsSpan(0, MaxBodyChars), $"{CutMark}{MaxBodyChars} of {body.Length} characters]");
        lock (list) // a reader may make calls in parallel (Lance's person reads)
            list.Add(new CapturedAnswer(provider, endpoint, status, body, error, at, job.Value));
    }

    /// <summary>The answers captured so far (a copy: the reader may still be adding to the list).</summary>
    public static IReadOnlyList<CapturedAnswer> Snapshot(IReadOnlyList<CapturedAnswer> answers)
    {
        lock (answers)
            return answers.ToList();
    }

    sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}

/// <summary>Records every answer of a provider's client, each attempt on its own (it sits inside the resilience pipeline).</summary>
public sealed class ProviderAnswerRecorder(ProviderName provider, IReadOnlyList<string> endpoints, TimeProvider time) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var endpoint = $"{request.Method.Method} {ProviderCallMetrics.EndpointOf(request.RequestUri, endpoints)}";
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, ct);
        }
        catch (Exception ex)
        {
            ProviderAnswers.Record(provider, endpoint, null, null, $"{ex.GetType().Name}: {ex.Message}", time.GetUtcNow());
            throw;
        }
        // Buffered, so the caller still reads the body it expects.
        await response.Content.LoadIntoBufferAsync(ct);
        ProviderAnswers.Record(provider, endpoint, (int)response.StatusCode, await response.Content.ReadAsStringAsync(ct), null, time.GetUtcNow());
        return response;
    }
}

public static class ProviderAnswerExtensions
{
    /// <summary>Call after <see cref="ProviderHttp.AddProviderResilience"/>: each attempt's answer is recorded.</summary>
    public static IHttpClientBuilder AddProviderAnswers(this IHttpClientBuilder client, ProviderName provider, IReadOnlyList<string> endpoints) =>
        client.AddHttpMessageHandler(sp => new ProviderAnswerRecorder(provider, endpoints, sp.GetRequiredService<TimeProvider>()));
}
