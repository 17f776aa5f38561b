namespace EnrichmentRelay.Contracts;

/// <summary>
/// The RabbitMQ exchanges this package's messages travel on. They are part of the contract: each message type
/// carries its name in <c>[EntityName]</c> and <c>[MessageUrn]</c>, so renaming or moving a type never moves
/// its exchange, and no version of this package changes them.
/// </summary>
public static class ExchangeNames
{
    /// <summary>Where <see cref="Contracts.EnrichmentRequested"/> is published (fanout; the relay's queue is bound to it).</summary>
    public const string EnrichmentRequested = "EnrichmentRelay.Contracts:EnrichmentRequested";

    /// <summary>Where the relay publishes <see cref="Contracts.EnrichmentCompleted"/> (fanout; bind your queue to it).</summary>
    public const string EnrichmentCompleted = "EnrichmentRelay.Contracts:EnrichmentCompleted";

    /// <summary>Where <see cref="Contracts.SelectionEnrichmentRequested"/> is published.</summary>
    public const string SelectionEnrichmentRequested = "EnrichmentRelay.Contracts:SelectionEnrichmentRequested";

    /// <summary>Where the relay publishes <see cref="Contracts.SelectionEnrichmentCompleted"/>.</summary>
    public const string SelectionEnrichmentCompleted = "EnrichmentRelay.Contracts:SelectionEnrichmentCompleted";

    /// <summary>The exchange MassTransit publishes a <c>Fault&lt;T&gt;</c> of a message on, from the message's exchange name.</summary>
    public const string FaultPrefix = "MassTransit:Fault--";

    /// <summary>Ends the name of a fault exchange (see <see cref="FaultPrefix"/>).</summary>
    public const string FaultSuffix = "--";
}
