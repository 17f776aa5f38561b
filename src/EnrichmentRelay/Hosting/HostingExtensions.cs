namespace EnrichmentRelay.Hosting;

public static class HostingExtensions
{
    /// <summary>How the relay sits in its environment: public URL, trusted proxies, graceful shutdown, answers to bad requests.</summary>
    public static IHostApplicationBuilder AddRelayHosting(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RelayOptions>().BindConfiguration(RelayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PublicUrls>();
        builder.AddTrustedProxies();
        builder.AddGracefulShutdown();
        builder.AddBadRequestAnswers();
        return builder;
    }
}
