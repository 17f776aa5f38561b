using System.Net;
using System.Net.Sockets;
using EnrichmentRelay.Contracts;
using Polly.CircuitBreaker;

namespace EnrichmentRelay.Providers;

/// <summary>
/// What every provider's submit POST shares: sending it once, and reading a failure into outcomes
/// without ever guessing that a POST whose fate is unknown did nothing.
/// </summary>
public static class SubmitCalls
{
    /// <summary>Sends the POST once; a failure comes back as NotSent (provably not sent) or Unknown.</summary>
    public static async Task<(HttpResponseMessage? Response, SubmitResult? Failure)> SendAsync(
        string provider, Func<CancellationToken, Task<HttpResponseMessage>> send, CancellationToken ct)
    {
        try
        {
            return (await send(ct), null);
        }
        catch (Exception ex) when (ProvesNothingWasSent(ex))
        {
            return (null, new SubmitResult(SubmitStatus.NotSent, Detail: $"{provider} could not be reached: {ex.Message}"));
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            // Timed out or cut off after the request went out: the provider may have taken it.
            return (null, new SubmitResult(SubmitStatus.Unknown, Detail: $"{provider} did not answer the submit: {ex.Message}"));
        }
    }

    /// <summary>
    /// How long after its POST left a job still recorded as <c>Submitting</c> must have been cut off before its answer
    /// was recorded (the relay was killed, its shutdown deadline passed, or the ledger failed while recording): a submit
    /// POST lasts at most the resilience pipeline's total timeout (3 × the provider's RequestTimeout), and recording its
    /// answer is one transaction, given one more RequestTimeout. Such a job is reconciled like any submit of unknown
    /// fate; one whose POST never left (its instance stopped while it queued) is sent again, since nothing was sent.
    /// </summary>
    public static TimeSpan OrphanWindow(TimeSpan requestTimeout) => requestTimeout * 4;

    /// <summary>Reads a non-success answer to a submit.</summary>
    public static SubmitResult FromErrorStatus(string provider, HttpResponseMessage response, string error, IReadOnlyList<PendingLead> leads) =>
        response.StatusCode switch
    {
        HttpStatusCode.PaymentRequired => Refused(leads, Outcome.InsufficientCredits, $"{provider}: {error}"),
        // The whole call refused for something in it: split until the leads it refuses are isolated.
        HttpStatusCode.BadRequest => Refused(leads, Outcome.Rejected, $"{provider} refused the lead: {error}") with { Bisectable = true },
        // The relay's key or address is wrong, not the leads: nothing was done, and the provider is paused.
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new SubmitResult(SubmitStatus.NotSent,
            Detail: $"{provider} refused the relay's key ({(int)response.StatusCode}): {error}",
            PauseReason: $"{provider} answered {(int)response.StatusCode} to the submit: its ApiKey is wrong, expired or lacks a permission ({error})"),
        HttpStatusCode.NotFound => new SubmitResult(SubmitStatus.NotSent, Detail: $"{provider} answered 404 to the submit: {error}",
            PauseReason: $"{provider} answered 404 to the submit endpoint itself: its BaseUrl is probably wrong ({error})"),
        // Both prove the request was not processed; the leads wait for the next flush, no sooner than the provider asks.
        HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable =>
            new SubmitResult(SubmitStatus.NotSent, Detail: $"{provider}: {error}", RetryAfter: RetryAfter(response)),
        >= HttpStatusCode.InternalServerError =>
            new SubmitResult(SubmitStatus.Unknown, Detail: $"{provider} answered {(int)response.StatusCode}: {error}"),
        _ => Refused(leads, Outcome.Failed, $"{provider} answered {(int)response.StatusCode}: {error}"),
    };

    /// <summary>The wait a Retry-After header asks for, as seconds or as a date; null without one.</summary>
    static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - (response.Headers.Date ?? DateTimeOffset.UtcNow) is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>The provider refused the whole call: every lead completes with the same outcome.</summary>
    public static SubmitResult Refused(IReadOnlyList<PendingLead> leads, Outcome outcome, string detail, string? providerStatus = null) =>
        new(SubmitStatus.Refused, Detail: detail, ProviderStatus: providerStatus,
            Completed: leads.ToDictionary(l => l.RequestId, _ => new LeadResult(outcome, Detail: detail)));

    /// <summary>Only a refused connection or an open circuit proves the POST never left.</summary>
    static bool ProvesNothingWasSent(Exception ex) => ex switch
    {
        BrokenCircuitException => true,
        SubmitAbandonedException => true,
        HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } } => true,
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => true,
        _ => false,
    };
}
