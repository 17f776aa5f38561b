namespace EnrichmentRelay.IntegrationTests.Infrastructure;

/// <summary>Waits on a condition with a deadline: never a fixed sleep standing in for "long enough".</summary>
public static class Eventually
{
    public static async Task<T> ReturnsAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        T last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"Gave up after {deadline.TotalSeconds:0} s waiting for {what}. Last seen: {last}");
            await Task.Delay(100);
            last = await probe();
        }
        return last;
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan deadline, string what) =>
        ReturnsAsync(() => Task.FromResult(condition()), ok => ok, deadline, what);
}
