namespace EnrichmentRelay.Jobs;

/// <summary>
/// Told that a job ended (no lead of it is open any more), once the unit of work that ended it has committed: what is
/// built on jobs elsewhere (a Lance selection's summary) follows from here, and the engine knows nothing of it. Handlers
/// run in a fresh scope, not the unit's; a handler's failure is logged and stays its own. A crash between the commit and
/// the call loses the call, so a handler that must not miss one keeps a safety net of its own. Raised by the poll
/// (<see cref="JobPolls"/>) only: a job that ends with its submit's answer, a callback or an operator's action does not
/// raise it (yet).
/// </summary>
public interface IJobEndedHandler
{
    Task JobEndedAsync(Guid jobId, CancellationToken ct);
}
