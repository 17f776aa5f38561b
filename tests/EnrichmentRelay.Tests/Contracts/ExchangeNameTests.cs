using EnrichmentRelay.Contracts;
using EnrichmentRelay.Polling;
using MassTransit;
using Xunit.Abstractions;

namespace EnrichmentRelay.Tests.Contracts;

/// <summary>
/// The exchange names and message URNs are part of the contract: publishers bind to them. They are pinned on each
/// type ([EntityName], [MessageUrn], [FaultEntityName]); these tests ask MassTransit's own RabbitMQ topology what
/// it will declare, so a rename, a namespace move or a MassTransit upgrade that changes a name fails here.
/// </summary>
public sealed class ExchangeNameTests(ITestOutputHelper output)
{
    // Created, never started: the topology answers without a broker.
    static readonly IBusControl RabbitBus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host("localhost"));

    public static TheoryData<Type, string> Pinned => new()
    {
        { typeof(EnrichmentRequested), "EnrichmentRelay.Contracts:EnrichmentRequested" },
        { typeof(EnrichmentCompleted), "EnrichmentRelay.Contracts:EnrichmentCompleted" },
        { typeof(SelectionEnrichmentRequested), "EnrichmentRelay.Contracts:SelectionEnrichmentRequested" },
        { typeof(SelectionEnrichmentCompleted), "EnrichmentRelay.Contracts:SelectionEnrichmentCompleted" },
        // The relay's own timer commands moved out of the contracts; their exchanges stayed.
        { typeof(PollWoodpecker), "EnrichmentRelay.Contracts:PollWoodpecker" },
        { typeof(PollPrecept), "EnrichmentRelay.Contracts:PollPrecept" },
        { typeof(PollLance), "EnrichmentRelay.Contracts:PollLance" },
    };

    [Theory]
    [MemberData(nameof(Pinned))]
    public void EachMessageKeepsItsExchangeMessageUrnAndFaultExchange(Type message, string exchange)
    {
        var (entity, urn, fault, publishAddress) = (ValueTuple<string, string, string, Uri>)typeof(ExchangeNameTests)
            .GetMethod(nameof(NamesOf), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(message).Invoke(null, null)!;

        Assert.Equal(exchange, entity);
        Assert.Equal($"rabbitmq://localhost/{exchange}", publishAddress.GetLeftPart(UriPartial.Path));
        Assert.Equal($"urn:message:{exchange}", urn);
        Assert.Equal($"MassTransit:Fault--{exchange}--", fault);
    }

    [Fact]
    public void EveryPublicMessageOfTheContractsIsPinned()
    {
        var messages = typeof(EnrichmentRequested).Assembly.GetExportedTypes()
            .Where(t => t.GetCustomAttributes(typeof(MessageUrnAttribute), false).Length > 0
                        || t.Name.EndsWith("Requested", StringComparison.Ordinal) || t.Name.EndsWith("Completed", StringComparison.Ordinal))
            .ToList();
        var pinned = Pinned.Select(row => (Type)row[0]).ToHashSet();

        Assert.Equal(4, messages.Count);
        Assert.All(messages, m => Assert.Contains(m, pinned));
        // Internal commands are not in the package.
        Assert.DoesNotContain(typeof(EnrichmentRequested).Assembly.GetExportedTypes(), t => t.Name.StartsWith("Poll", StringComparison.Ordinal));
        output.WriteLine($"[figure] exchange names, message URNs and fault exchanges pinned for {pinned.Count} message types " +
                         $"({messages.Count} in the contracts package, {pinned.Count - messages.Count} relay poll commands outside it)");
    }

    [Fact]
    public void TheConstantsPublishersUseAreTheTopologysNames()
    {
        Assert.Equal(ExchangeNames.EnrichmentRequested, RabbitBus.Topology.Message<EnrichmentRequested>().EntityName);
        Assert.Equal(ExchangeNames.EnrichmentCompleted, RabbitBus.Topology.Message<EnrichmentCompleted>().EntityName);
        Assert.Equal(ExchangeNames.SelectionEnrichmentRequested, RabbitBus.Topology.Message<SelectionEnrichmentRequested>().EntityName);
        Assert.Equal(ExchangeNames.SelectionEnrichmentCompleted, RabbitBus.Topology.Message<SelectionEnrichmentCompleted>().EntityName);
    }

    static (string Entity, string Urn, string Fault, Uri PublishAddress) NamesOf<T>() where T : class
    {
        Assert.True(RabbitBus.Topology.TryGetPublishAddress<T>(out var address));
        return (RabbitBus.Topology.Message<T>().EntityName, MessageUrn.ForTypeString<T>(),
            RabbitBus.Topology.Message<Fault<T>>().EntityName, address);
    }
}
