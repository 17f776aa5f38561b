using EnrichmentRelay.Hosting;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Polling;
using EnrichmentRelay.Providers;
using MassTransit;

namespace EnrichmentRelay.Jobs;

public static class JobsExtensions
{
    /// <summary>
    /// The job engine for every provider <see cref="ProviderExtensions.AddProviders"/> enabled (call it after): the
    /// flusher that packs requests into submits, each polled provider's tick and its one poll consumer, and what a
    /// reader may ask of the relay's own jobs.
    /// </summary>
    public static IHostApplicationBuilder AddJobs(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<BatchFlushSignal>();
        builder.Services.AddOptions<WaterfallOptions>().BindConfiguration(WaterfallOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<WaterfallOptions>, KnownProviders>();
        builder.Services.AddScoped<Waterfall>();
        builder.Services.AddScoped<JobResults>();
        builder.Services.AddScoped<IJobDirectory, JobDirectory>();
        builder.Services.AddSingleton<ICrossInstanceLock, LedgerAdvisoryLock>();
        builder.Services.AddSingleton<JobPolls>();
        builder.Services.AddHostedService<BatchFlusher>();

        var polled = builder.Services.Where(d => d.ServiceType == typeof(PolledProvider))
            .Select(d => (PolledProvider)d.ImplementationInstance!).ToList();
        foreach (var provider in polled)
            builder.Services.AddSingleton(sp => new PollSchedule(Telemetry.RelayMetrics.Tag(provider.Name), provider.Interval(sp),
                (tick, at) => PolledProviders.Command(provider.Name, tick, at)));
        // Publishes each polled provider's Poll command on its tick (the scheduled consumers).
        builder.Services.AddHostedService<PollTicker>();
        builder.AddBusConsumers((bus, _) =>
        {
            foreach (var provider in polled)
                switch (provider.Name)
                {
                    case Contracts.ProviderName.Precept:
                        bus.AddConsumer<PollConsumer<PollPrecept>, PollConsumerDefinition<PollPrecept>>();
                        break;
                    case Contracts.ProviderName.Woodpecker:
                        bus.AddConsumer<PollConsumer<PollWoodpecker>, PollConsumerDefinition<PollWoodpecker>>();
                        break;
                    case Contracts.ProviderName.Lance:
                        bus.AddConsumer<PollConsumer<PollLance>, PollConsumerDefinition<PollLance>>();
                        break;
                }
            bus.AddConsumer<RetryProviderJobConsumer, RetryProviderJobConsumerDefinition>();
        });
        return builder;
    }
}
