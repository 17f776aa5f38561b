using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using EnrichmentRelay.Telemetry;
using EnrichmentRelay.Access;

namespace EnrichmentRelay.Jobs;

/// <summary>A provider job as an operator sees it.</summary>
public sealed record JobSummary(
    Guid Id,
    string Name,
    ProviderName Provider,
    string State,
    int RequestCount,
    int OpenRequests,
    DateTimeOffset CreatedAt,
    DateTimeOffset? SubmitStartedAt,
    string? ProviderJobId,
    string? LastError);

public sealed record JobPage(int Total, IReadOnlyList<JobSummary> Items);

/// <summary>What an operator's action on a job did.</summary>
public sealed record JobAction(Guid Id, string Action, int Requests);

/// <summary>
/// <c>/admin/jobs</c>: the provider jobs that wait for an operator (a submit whose answer was lost and which the
/// provider did not show), and the two ways out of that: send the leads again, or complete them failed.
/// </summary>
public static class JobsApi
{
    public const string ResendAction = "resend";
    public const string FailAction = "fail";

    public const string FailedByOperatorDetail = "The provider's answer to this lead's submit was lost and the provider did not show the job; " +
                                                 "an operator completed it as failed. The provider may or may not have worked (and charged for) it.";

    public static RouteGroupBuilder MapJobs(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/jobs").WithTags("Admin");
        group.MapGet("/", ListAsync)
            .WithSummary("Lists provider jobs that need attention (or, with state=, any state)")
            .WithDescription("state: needsAttention (the default), submitUnknown, submitting, submitted, refused, completed. " +
                             "A job needs attention when its submit's answer was lost and the provider did not show it: sending it again " +
                             "could charge twice, so an operator chooses. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "One Precept job whose submit's answer was lost", PageExample);
        group.MapPost("/{id:guid}/resend", ResendAsync)
            .WithSummary("Sends the leads of a job that needs attention again, in a new job")
            .WithDescription("Use when you know the provider did not take the job (for instance from its own dashboard): its open requests " +
                             "go back in line and are submitted in the next batch. If the provider did take it, they are charged twice. " +
                             "409 unless the job needs attention. Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "Its 250 open requests wait for the next batch", """
                {"id":"0ab0b400-5466-4083-9ac8-ab08ea975849","action":"resend","requests":250}
                """);
        group.MapPost("/{id:guid}/fail", FailAsync)
            .WithSummary("Completes the open requests of a job that needs attention as failed")
            .WithDescription("Each gets its EnrichmentCompleted with outcome failed and a detail saying why. 409 unless the job needs attention. " +
                             "Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "Its 250 open requests completed failed", """
                {"id":"0ab0b400-5466-4083-9ac8-ab08ea975849","action":"fail","requests":250}
                """);
        return group;
    }

    const string PageExample = """
        {"total":1,"items":[{"id":"0ab0b400-5466-4083-9ac8-ab08ea975849","name":"relay-0ab0b400546640839ac8ab08ea975849","provider":"precept",
         "state":"NeedsAttention","requestCount":250,"openRequests":250,"createdAt":"2026-12-02T09:00:00+00:00",
         "submitStartedAt":"2026-12-02T09:00:01+00:00","providerJobId":null,
         "lastError":"The submit's answer was lost and Precept did not show the job within 00:05:00; sending it again could charge twice."}]}
        """;

    static async Task<Results<Ok<JobPage>, ValidationProblem>> ListAsync(RelayDbContext db, string? state, CancellationToken ct)
    {
        var wanted = ProviderJobState.NeedsAttention;
        if (state is not null && !Enum.TryParse(state, ignoreCase: true, out wanted))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["state"] = [$"Unknown state '{state}'; one of: {string.Join(", ", Enum.GetNames<ProviderJobState>())}."],
            });
        var jobs = db.ProviderJobs.AsNoTracking().Where(j => j.State == wanted);
        var items = await jobs.OrderBy(j => j.CreatedAt).Take(500)
            .Select(j => new JobSummary(j.Id, "", j.Provider, j.State.ToString(), j.RequestCount,
                db.Requests.Count(r => r.ProviderJobId == j.Id && r.State == RequestState.Submitted),
                j.CreatedAt, j.SubmitStartedAt, j.ExternalId, j.LastError))
            .ToListAsync(ct);
        return TypedResults.Ok(new JobPage(await jobs.CountAsync(ct), items.Select(i => i with { Name = ProviderJobRecord.NameOf(i.Id) }).ToList()));
    }

    static Task<Results<Ok<JobAction>, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> ResendAsync(
        Guid id, RelayDbContext db, JobResults results, BatchFlushSignal flush, TimeProvider time, ILoggerFactory loggers, CancellationToken ct) =>
        ActAsync(id, ResendAction, db, results, loggers, ct, async (work, open, now) =>
        {
            var job = work.Job;
            job.State = ProviderJobState.Refused;
            job.CompletedAt = now;
            job.LastError = $"An operator sent its {open.Count} open requests again at {now:O}.";
            JobRules.Resend(work, open, now, "Its submit's answer was lost and the provider did not show the job; an operator sent the lead again.");
            await db.SaveChangesAsync(ct);
            flush.Pulse();
        }, time);

    static Task<Results<Ok<JobAction>, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> FailAsync(
        Guid id, RelayDbContext db, JobResults results, RequestCompletion completion, TimeProvider time, ILoggerFactory loggers, CancellationToken ct) =>
        ActAsync(id, FailAction, db, results, loggers, ct, async (work, open, now) =>
        {
            foreach (var request in open)
                results.Complete(work, request.RequestId, new LeadResult(Outcome.Failed, Detail: FailedByOperatorDetail));
            work.Job.State = ProviderJobState.Completed;
            work.Job.CompletedAt = now;
            work.Job.LastError = $"An operator completed its {open.Count} open requests as failed at {now:O}.";
            await completion.SaveAsync(ct);
        }, time);

    static async Task<Results<Ok<JobAction>, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> ActAsync(
        Guid id, string action, RelayDbContext db, JobResults results, ILoggerFactory loggers, CancellationToken ct,
        Func<JobResults.JobWork, List<EnrichmentRequestRecord>, DateTimeOffset, Task> act, TimeProvider time)
    {
        var job = await db.ProviderJobs.SingleOrDefaultAsync(j => j.Id == id, ct);
        if (job is null)
            return TypedResults.NotFound(new ProblemDetails { Status = 404, Title = "Unknown job", Detail = $"No provider job {id}." });
        if (job.State != ProviderJobState.NeedsAttention)
            return TypedResults.Conflict(new ProblemDetails
            {
                Status = 409, Title = "Job does not need attention",
                Detail = $"Job {job.Name} is {job.State}: only a job that needs attention can be resent or failed by hand.",
            });
        var work = await results.OpenAsync(job, ct);
        var open = work.Open.ToList();
        try
        {
            // Saved against the job's Version: a sweep or a callback that adopted it meanwhile wins.
            await act(work, open, time.GetUtcNow());
        }
        catch (DbUpdateConcurrencyException)
        {
            return TypedResults.Conflict(new ProblemDetails
            {
                Status = 409, Title = "Job changed meanwhile", Detail = $"Job {job.Name} was changed by the relay while this action ran; read it again.",
            });
        }
        loggers.CreateLogger(typeof(JobsApi)).LogWarning("Operator action {Action} on job {JobName}: {Count} requests", action, job.Name, open.Count);
        return TypedResults.Ok(new JobAction(job.Id, action, open.Count));
    }
}
