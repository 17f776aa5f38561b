using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Polling;
using EnrichmentRelay.Requests.Selections;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Operations;

/// <summary>
/// The bus contract as an AsyncAPI 3.0 document: every exchange and queue the relay consumes from or publishes to,
/// how they are bound, and the messages on them (raw JSON and MassTransit's envelope), with JSON Schemas exported
/// from the contract records with the relay's own JSON options and described by their XML documentation.
/// Served at <c>/asyncapi.json</c>; <c>docs/asyncapi.yaml</c> is the same document, kept current by
/// <c>AsyncApiDocumentTests</c> (which rewrites it when <c>RELAY_WRITE_ASYNCAPI=1</c>).
/// </summary>
public static partial class AsyncApiDocument
{
    public const string Path = "/asyncapi.json";

    /// <summary>MassTransit's JSON envelope; the relay reads it and plain JSON on the same queues.</summary>
    const string EnvelopeContentType = "application/vnd.masstransit+json";

    const string AmqpBindingVersion = "0.3.0";

    public static IEndpointRouteBuilder MapAsyncApi(this IEndpointRouteBuilder app)
    {
        var document = Create().ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        app.MapGet(Path, () => TypedResults.Text(document, "application/json"))
            .WithTags("Operations")
            .WithSummary("The bus contract (AsyncAPI 3.0): exchanges, queues, bindings and message schemas")
            .WithDescription("What travels on RabbitMQ between publishers, the relay and subscribers, with a JSON Schema of every " +
                             "message; the same document as docs/asyncapi.yaml in the repository.")
            .Produces<JsonObject>(StatusCodes.Status200OK, "application/json")
            .WithResponseExample(StatusCodes.Status200OK, "The document (shortened)",
                """{ "asyncapi": "3.0.0", "info": { "title": "EnrichmentRelay bus contract", "version": "1.0.0" }, "channels": { "enrichmentRequestedExchange": { "address": "EnrichmentRelay.Contracts:EnrichmentRequested" } } }""");
        return app;
    }

    /// <summary>A queue the relay consumes, the exchanges that feed it, and the messages it takes.</summary>
    sealed record Intake(string Id, string Queue, string Exchange, Type Message, bool TakesRawJson, bool Internal, string Description);

    /// <summary>An exchange the relay publishes to; subscribers bind their own queues to it.</summary>
    sealed record Publication(string Id, string Exchange, Type Message, string Description);

    static readonly Intake[] Intakes =
    [
        new("enrichmentRequested", EnrichmentRequestedConsumerDefinition.QueueName, ExchangeNames.EnrichmentRequested, typeof(EnrichmentRequested),
            TakesRawJson: true, Internal: false,
            "Requests to enrich a lead. Publish to the exchange (MassTransit: IPublishEndpoint.Publish; others: plain JSON with " +
            "content_type application/json), or send straight to the queue. The same requestId twice is one enrichment, one charge " +
            "and one completion. An invalid request is answered with a rejected EnrichmentCompleted; a message that cannot be read " +
            "becomes a dead letter (GET /admin/dead-letters)."),
        new("selectionEnrichmentRequested", SelectionEnrichmentRequestedConsumerDefinition.QueueName, ExchangeNames.SelectionEnrichmentRequested,
            typeof(SelectionEnrichmentRequested), TakesRawJson: true, Internal: false,
            "Requests to enrich whoever a Lance search selects: one EnrichmentCompleted per selected person, then one SelectionEnrichmentCompleted."),
        new("pollWoodpecker", "poll-woodpecker", PollWoodpecker.ExchangeName, typeof(PollWoodpecker), TakesRawJson: false, Internal: true,
            "Internal: the relay's own timer (one poll of Woodpecker per tick across instances). Not for publishers."),
        new("pollPrecept", "poll-precept", PollPrecept.ExchangeName, typeof(PollPrecept), TakesRawJson: false, Internal: true,
            "Internal: the relay's own timer (one sweep of overdue Precept jobs per tick across instances). Not for publishers."),
        new("pollLance", "poll-lance", PollLance.ExchangeName, typeof(PollLance), TakesRawJson: false, Internal: true,
            "Internal: the relay's own timer (one poll of Lance per tick across instances). Not for publishers."),
        new("retryProviderJob", JobPolls.RetryQueue, RetryProviderJob.ExchangeName, typeof(RetryProviderJob), TakesRawJson: true, Internal: true,
            "Internal: what replaying a job's dead letter sends (POST /admin/dead-letters/{id}/replay): the job is read again on its " +
            "provider's next poll. Not for publishers."),
    ];

    static readonly Publication[] Publications =
    [
        new("enrichmentCompleted", ExchangeNames.EnrichmentCompleted, typeof(EnrichmentCompleted),
            "Exactly one per request (at least once on the wire: a copy carries the same eventId, which is also the MassTransit " +
            "messageId). Bind your own durable queue to this fanout exchange."),
        new("selectionEnrichmentCompleted", ExchangeNames.SelectionEnrichmentCompleted, typeof(SelectionEnrichmentCompleted),
            "The end of a Lance selection: how many were selected and how their enrichments ended."),
    ];

    public static JsonObject Create()
    {
        var channels = new JsonObject();
        var operations = new JsonObject();
        var messages = new JsonObject();
        var schemas = new JsonObject();

        foreach (var intake in Intakes)
        {
            var name = intake.Message.Name;
            AddMessages(intake.Message, intake.TakesRawJson, messages, schemas);
            JsonArray MessageRefs(string channel) => new(intake.TakesRawJson
                ? [Ref($"#/channels/{channel}/messages/{name}"), Ref($"#/channels/{channel}/messages/{name}Envelope")]
                : [Ref($"#/channels/{channel}/messages/{name}Envelope")]);
            JsonObject ChannelMessages() => intake.TakesRawJson
                ? new JsonObject { [name] = Ref($"#/components/messages/{name}"), [name + "Envelope"] = Ref($"#/components/messages/{name}Envelope") }
                : new JsonObject { [name + "Envelope"] = Ref($"#/components/messages/{name}Envelope") };

            var exchangeChannel = intake.Id + "Exchange";
            channels[exchangeChannel] = new JsonObject
            {
                ["address"] = intake.Exchange,
                ["title"] = $"{name} (exchange)",
                ["description"] = intake.Description,
                ["messages"] = ChannelMessages(),
                ["bindings"] = ExchangeBinding(intake.Exchange),
            };
            var queueChannel = intake.Id + "Queue";
            channels[queueChannel] = new JsonObject
            {
                ["address"] = intake.Queue,
                ["title"] = $"{intake.Queue} (the relay's queue)",
                ["description"] =
                    $"The relay's queue for {name}, bound (through a fanout exchange of the same name) to {intake.Exchange}. It exists once " +
                    $"a relay has started; a producer that may start first can declare it (durable, no arguments). Failed messages wait in " +
                    $"{intake.Queue}_delay_<delay> queues between redeliveries" + (intake.Internal ? " only for requests; a failed poll is dropped." : "."),
                ["messages"] = ChannelMessages(),
                ["bindings"] = QueueBinding(intake.Queue),
                // The broker's bindings MassTransit declares for this endpoint, checked against a running relay by PublisherTests.
                ["x-rabbitmq-bindings"] = new JsonArray(
                    Binding(intake.Exchange, intake.Queue, "exchange"),
                    Binding(intake.Queue, intake.Queue, "queue")),
            };
            operations["receive" + name] = new JsonObject
            {
                ["action"] = "receive",
                ["channel"] = Ref($"#/channels/{queueChannel}"),
                ["title"] = $"The relay consumes {name}",
                ["messages"] = MessageRefs(queueChannel),
            };
            if (intake.Internal)
                operations["send" + name] = new JsonObject
                {
                    ["action"] = "send",
                    ["channel"] = Ref($"#/channels/{exchangeChannel}"),
                    ["title"] = $"The relay's timer publishes {name}",
                    ["messages"] = MessageRefs(exchangeChannel),
                };
        }

        foreach (var publication in Publications)
        {
            var name = publication.Message.Name;
            AddMessages(publication.Message, takesRawJson: false, messages, schemas);
            channels[publication.Id] = new JsonObject
            {
                ["address"] = publication.Exchange,
                ["title"] = $"{name} (exchange)",
                ["description"] = publication.Description,
                ["messages"] = new JsonObject { [name + "Envelope"] = Ref($"#/components/messages/{name}Envelope") },
                ["bindings"] = ExchangeBinding(publication.Exchange),
            };
            operations["send" + name] = new JsonObject
            {
                ["action"] = "send",
                ["channel"] = Ref($"#/channels/{publication.Id}"),
                ["title"] = $"The relay publishes {name}",
                ["messages"] = new JsonArray(Ref($"#/channels/{publication.Id}/messages/{name}Envelope")),
            };
        }

        return new JsonObject
        {
            ["asyncapi"] = "3.0.0",
            ["info"] = new JsonObject
            {
                ["title"] = "EnrichmentRelay bus contract",
                ["version"] = ContractVersion,
                ["description"] =
                    "What travels on RabbitMQ between your services and EnrichmentRelay. Exchange names are pinned in the contracts " +
                    "(the EnrichmentRelay.Contracts package) and stable. Property names are camelCase and read case-insensitively; enum " +
                    "values are camelCase strings. The relay publishes with MassTransit's JSON envelope (the event is its message " +
                    "property); it reads that envelope and plain JSON. This document is generated from the relay (served at " +
                    $"{Path}); docs/messages.md explains the rules.",
                ["license"] = new JsonObject { ["name"] = "MIT" },
            },
            ["defaultContentType"] = "application/json",
            ["servers"] = new JsonObject
            {
                ["rabbitmq"] = new JsonObject
                {
                    ["host"] = "{host}:{port}",
                    ["pathname"] = "/{virtualHost}",
                    ["protocol"] = "amqp",
                    ["protocolVersion"] = "0.9.1",
                    ["description"] = "Your RabbitMQ broker: the relay's Bus:Host, Bus:Port and Bus:VirtualHost.",
                    ["variables"] = new JsonObject
                    {
                        ["host"] = new JsonObject { ["default"] = "localhost" },
                        ["port"] = new JsonObject { ["default"] = "5672" },
                        ["virtualHost"] = new JsonObject { ["default"] = "", ["description"] = "Empty for the default virtual host /." },
                    },
                },
            },
            ["channels"] = channels,
            ["operations"] = operations,
            ["components"] = new JsonObject { ["messages"] = messages, ["schemas"] = schemas },
        };
    }

    static string ContractVersion =>
        (typeof(EnrichmentRequested).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    static void AddMessages(Type message, bool takesRawJson, JsonObject messages, JsonObject schemas)
    {
        var name = message.Name;
        if (schemas.ContainsKey(name))
            return;
        schemas[name] = Schema(message);
        var summary = Documentation.Summary(message) ?? name;
        if (takesRawJson)
            messages[name] = new JsonObject
            {
                ["name"] = name,
                ["title"] = $"{name} as plain JSON",
                ["summary"] = summary,
                ["contentType"] = "application/json",
                ["payload"] = Ref($"#/components/schemas/{name}"),
            };
        var urn = "urn:message:" + MessageTypeName(message);
        messages[name + "Envelope"] = new JsonObject
        {
            ["name"] = name + "Envelope",
            ["title"] = $"{name} in MassTransit's envelope",
            ["summary"] = summary,
            ["contentType"] = EnvelopeContentType,
            ["payload"] = new JsonObject
            {
                ["type"] = "object",
                ["description"] = $"MassTransit's JSON envelope; messageType holds {urn}.",
                ["required"] = new JsonArray("messageType", "message"),
                ["properties"] = new JsonObject
                {
                    ["messageId"] = Uuid("Unique per message; for EnrichmentCompleted it is the eventId."),
                    ["correlationId"] = Uuid("Set by the sender, if at all."),
                    ["conversationId"] = Uuid("The conversation the message belongs to."),
                    ["sourceAddress"] = Text("The endpoint that sent it."),
                    ["destinationAddress"] = Text("The exchange or queue it was sent to."),
                    ["messageType"] = new JsonObject
                    {
                        ["type"] = "array",
                        ["description"] = "The message type URNs; the relay matches on its own.",
                        ["items"] = new JsonObject { ["type"] = "string" },
                        ["contains"] = new JsonObject { ["const"] = urn },
                    },
                    ["message"] = Ref($"#/components/schemas/{name}"),
                    ["sentTime"] = new JsonObject { ["type"] = "string", ["format"] = "date-time" },
                    ["headers"] = new JsonObject { ["type"] = "object", ["description"] = "Message headers (e.g. the W3C trace context)." },
                    ["host"] = new JsonObject { ["type"] = "object", ["description"] = "The sending process (machine, process and assembly names)." },
                },
            },
        };
    }

    /// <summary>The message type name MassTransit puts in the envelope: the [MessageUrn] each type is pinned with.</summary>
    static string MessageTypeName(Type message) =>
        message.GetCustomAttribute<MassTransit.MessageUrnAttribute>()?.Urn.ToString()["urn:message:".Length..]
        ?? throw new InvalidOperationException($"{message.Name} has no [MessageUrn]: its wire name would follow its namespace.");

    // The relay's JSON options, with the reflection resolver they use anyway named (the exporter needs it stated).
    static readonly JsonSerializerOptions SchemaOptions = new(RelayJson.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    static JsonNode Schema(Type type) => SchemaOptions.GetJsonSchemaAsNode(type, new JsonSchemaExporterOptions
    {
        TreatNullObliviousAsNonNullable = true,
        TransformSchemaNode = (context, schema) =>
        {
            var member = context.PropertyInfo?.AttributeProvider as MemberInfo;
            var text = member is not null ? Documentation.Summary(member) : context.PropertyInfo is null ? Documentation.Summary(context.TypeInfo.Type) : null;
            if (text is null)
                return schema;
            // "Any JSON" (a JsonElement such as woodpeckerLead) is the schema true; an object with only a description means the same.
            if (schema is JsonValue value && value.GetValueKind() == JsonValueKind.True)
                return new JsonObject { ["description"] = text };
            if (schema is JsonObject node && !node.ContainsKey("description"))
                node.Insert(0, "description", text);
            return schema;
        },
    });

    static JsonObject ExchangeBinding(string exchange) => new()
    {
        ["amqp"] = new JsonObject
        {
            ["is"] = "routingKey",
            ["exchange"] = new JsonObject { ["name"] = exchange, ["type"] = "fanout", ["durable"] = true, ["autoDelete"] = false },
            ["bindingVersion"] = AmqpBindingVersion,
        },
    };

    static JsonObject QueueBinding(string queue) => new()
    {
        ["amqp"] = new JsonObject
        {
            ["is"] = "queue",
            ["queue"] = new JsonObject { ["name"] = queue, ["durable"] = true, ["exclusive"] = false, ["autoDelete"] = false },
            ["bindingVersion"] = AmqpBindingVersion,
        },
    };

    static JsonObject Binding(string source, string destination, string destinationKind) => new()
    {
        ["source"] = source,
        ["destination"] = destination,
        ["destinationKind"] = destinationKind,
    };

    static JsonObject Ref(string pointer) => new() { ["$ref"] = pointer };

    static JsonObject Uuid(string description) => new() { ["type"] = "string", ["format"] = "uuid", ["description"] = description };

    static JsonObject Text(string description) => new() { ["type"] = "string", ["description"] = description };

    /// <summary>The contracts' XML documentation (EnrichmentRelay.Contracts.xml beside the assembly) as plain text.</summary>
    static partial class Documentation
    {
        static readonly Lazy<IReadOnlyDictionary<string, string>> Summaries = new(Load);

        public static string? Summary(MemberInfo member)
        {
            var id = member switch
            {
                Type type => "T:" + type.FullName,
                PropertyInfo property => $"P:{property.DeclaringType!.FullName}.{property.Name}",
                _ => null,
            };
            return id is not null && Summaries.Value.TryGetValue(id, out var text) ? text : null;
        }

        static IReadOnlyDictionary<string, string> Load()
        {
            var file = System.IO.Path.ChangeExtension(typeof(EnrichmentRequested).Assembly.Location, ".xml");
            if (!File.Exists(file))
                throw new FileNotFoundException("The contracts' XML documentation is missing beside the assembly; the AsyncAPI document describes its schemas with it.", file);
            return XDocument.Load(file).Descendants("member")
                .Where(m => m.Element("summary") is not null)
                .ToDictionary(m => (string)m.Attribute("name")!, m => Plain(m.Element("summary")!));
        }

        /// <summary><c>&lt;see cref="T:A.B"/&gt;</c> becomes <c>B</c>, <c>&lt;c&gt;x&lt;/c&gt;</c> becomes <c>x</c>, whitespace collapses.</summary>
        static string Plain(XElement summary)
        {
            var text = string.Concat(summary.Nodes().Select(node => node switch
            {
                XElement { Name.LocalName: "see" } see => (see.Attribute("cref")?.Value ?? see.Attribute("langword")?.Value ?? "").Split('(')[0].Split('.', ':')[^1],
                XElement element => element.Value,
                XText plain => plain.Value,
                _ => "",
            }));
            return Whitespace().Replace(text, " ").Trim();
        }

        [GeneratedRegex(@"\s+")]
        private static partial Regex Whitespace();
    }
}
