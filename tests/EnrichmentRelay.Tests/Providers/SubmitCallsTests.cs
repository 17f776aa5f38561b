using System.Net;
using System.Net.Http.Headers;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Providers;

namespace EnrichmentRelay.Tests.Providers;

public sealed class SubmitCallsTests
{
    static readonly IReadOnlyList<PendingLead> Leads = [new(Guid.NewGuid(), new EnrichmentRequested())];

    [Theory]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    public void ABusyAnswerIsNotSentAndCarriesItsRetryAfterInSeconds(HttpStatusCode status)
    {
        using var response = new HttpResponseMessage(status) { Headers = { RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(42)) } };

        var result = SubmitCalls.FromErrorStatus("Precept", response, "busy", Leads);

        Assert.Equal(SubmitStatus.NotSent, result.Status);
        Assert.Equal(TimeSpan.FromSeconds(42), result.RetryAfter);
    }

    [Fact]
    public void ARetryAfterDateIsReadAgainstTheAnswersOwnDate()
    {
        var sent = new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
        using var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
        {
            Headers = { Date = sent, RetryAfter = new RetryConditionHeaderValue(sent.AddMinutes(2)) },
        };

        Assert.Equal(TimeSpan.FromMinutes(2), SubmitCalls.FromErrorStatus("Woodpecker", response, "down", Leads).RetryAfter);
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, SubmitStatus.Unknown)]
    [InlineData(HttpStatusCode.BadGateway, SubmitStatus.Unknown)]
    [InlineData(HttpStatusCode.PaymentRequired, SubmitStatus.Refused)]
    [InlineData(HttpStatusCode.BadRequest, SubmitStatus.Refused)]
    public void OtherErrorsAreNeverReadAsNotSent(HttpStatusCode status, SubmitStatus expected)
    {
        using var response = new HttpResponseMessage(status);

        var result = SubmitCalls.FromErrorStatus("Precept", response, "error", Leads);

        Assert.Equal(expected, result.Status);
        Assert.Null(result.RetryAfter);
    }
}
