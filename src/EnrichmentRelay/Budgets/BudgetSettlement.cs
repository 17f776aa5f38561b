using EnrichmentRelay.Telemetry;

namespace EnrichmentRelay.Budgets;

/// <summary>
/// Settles the reservations of jobs that ended (on whichever path and instance they ended), counts job costs reported
/// after their job was settled, and reads today's budgets into the gauges, every <see cref="BudgetsOptions.SettleInterval"/>. Each instance runs it; a job is settled once.
/// </summary>
public sealed class BudgetSettlement(
    IServiceScopeFactory scopes,
    BudgetSettings settings,
    RelayMetrics metrics,
    TimeProvider time,
    ILogger<BudgetSettlement> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Reservations stay open meanwhile: the budget errs on the side of spending less.
                logger.LogWarning(ex, "Settling budget reservations failed; trying again shortly");
            }
            await Task.Delay(settings.Budgets.SettleInterval, time, stoppingToken);
        }
    }

    internal async Task RunOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var budgets = scope.ServiceProvider.GetRequiredService<ProviderBudgets>();
        var settled = await budgets.SettleEndedAsync(ct);
        if (settled > 0)
            logger.LogDebug("Settled the budget reservations of {JobCount} ended jobs", settled);
        var corrected = await budgets.SettleLateChargesAsync(ct);
        if (corrected > 0)
            logger.LogInformation("Counted the costs of {JobCount} jobs reported after their settlement", corrected);
        metrics.ObserveBudgets((await budgets.StatusAsync(ct))
            .Select(b => new BudgetReading(b.Provider, (double?)b.DailyCap, (double)b.Reserved, (double)b.Charged)).ToList());
    }
}
