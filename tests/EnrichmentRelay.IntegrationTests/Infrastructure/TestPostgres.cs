namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of the run: the one the tests share (<see cref="Shared"/>), or the outage tests' own
/// (<see cref="Outage"/>), which they restart, crash and kill.
/// </summary>
public sealed record TestPostgres(string AdminConnectionString, string PgCtl, string PgKill)
{
    public static TestPostgres Shared => new(TestEnvironment.PostgresAdmin, TestEnvironment.PgCtl, TestEnvironment.PgKill);

    public static TestPostgres Outage => new(TestEnvironment.Outage.PostgresAdmin, TestEnvironment.Outage.PgCtl, TestEnvironment.Outage.PgKill);

    /// <summary>Runs pg_ctl against this cluster (as the right user), e.g. to restart it.</summary>
    public Task CtlAsync(params string[] arguments) => TestEnvironment.RunAsync(PgCtl, arguments);

    /// <summary>SIGKILL this cluster's postmaster and wait for its children to exit (infra/postgres/kill.sh).</summary>
    public Task KillAsync() => TestEnvironment.RunAsync(PgKill, []);
}
