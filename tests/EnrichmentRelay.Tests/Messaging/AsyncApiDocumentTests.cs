using System.Text.Json.Nodes;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Xunit.Abstractions;

namespace EnrichmentRelay.Tests.Messaging;

/// <summary>
/// docs/asyncapi.yaml is the document the relay serves at /asyncapi.json, regenerated from the contracts here: a
/// change to a record, its XML docs, a queue or an exchange that is not written back into the file fails this test.
/// <c>RELAY_WRITE_ASYNCAPI=1 dotnet test tests/EnrichmentRelay.Tests --filter AsyncApiDocumentTests</c> rewrites it.
/// (PublisherTests validates it with the AsyncAPI parser and checks its bindings against a running relay's broker.)
/// </summary>
public sealed class AsyncApiDocumentTests(ITestOutputHelper output)
{
    static string DocumentPath => Path.Combine(RepositoryRoot(), "docs", "asyncapi.yaml");

    [Fact]
    public void TheCommittedDocumentIsTheGeneratedOne()
    {
        var generated = "# Generated from the relay (src/EnrichmentRelay/Messaging/AsyncApiDocument.cs), which serves it at /asyncapi.json.\n" +
                        "# Do not edit: RELAY_WRITE_ASYNCAPI=1 dotnet test tests/EnrichmentRelay.Tests --filter AsyncApiDocumentTests\n" +
                        YamlJson.ToYaml(AsyncApiDocument.Create());
        if (Environment.GetEnvironmentVariable("RELAY_WRITE_ASYNCAPI") == "1")
        {
            File.WriteAllText(DocumentPath, generated);
            output.WriteLine($"[figure] AsyncAPI: rewrote {DocumentPath}");
        }

        var committed = File.Exists(DocumentPath) ? File.ReadAllText(DocumentPath) : "";
        Assert.True(committed == generated,
            "docs/asyncapi.yaml is stale (or edited by hand): regenerate it with " +
            "RELAY_WRITE_ASYNCAPI=1 dotnet test tests/EnrichmentRelay.Tests --filter AsyncApiDocumentTests, then review the diff.");
        var document = AsyncApiDocument.Create();
        output.WriteLine($"[figure] AsyncAPI: docs/asyncapi.yaml matches the regenerated document ({document["channels"]!.AsObject().Count} channels, " +
                         $"{document["operations"]!.AsObject().Count} operations, {document["components"]!["schemas"]!.AsObject().Count} schemas from the contract records)");
    }

    [Fact]
    public void TheYamlReadsBackAsTheServedJson()
    {
        var read = YamlJson.FromYaml(File.ReadAllText(DocumentPath));

        Assert.True(JsonNode.DeepEquals(AsyncApiDocument.Create(), read), "a YAML reader sees docs/asyncapi.yaml differently from /asyncapi.json");
    }

    [Fact]
    public async Task TheRelayServesItAtAsyncApiJson()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        await using var app = builder.Build();
        app.MapAsyncApi();
        await app.StartAsync();

        var served = JsonNode.Parse(await app.GetTestClient().GetStringAsync(AsyncApiDocument.Path));

        Assert.True(JsonNode.DeepEquals(AsyncApiDocument.Create(), served));
    }

    [Fact]
    public void EveryContractMessageHasASchemaEveryPropertyIsDescribedAndEveryReferenceResolves()
    {
        var document = AsyncApiDocument.Create();
        var schemas = document["components"]!["schemas"]!.AsObject();
        foreach (var type in new[] { typeof(EnrichmentRequested), typeof(EnrichmentCompleted), typeof(SelectionEnrichmentRequested), typeof(SelectionEnrichmentCompleted) })
        {
            var properties = schemas[type.Name]!["properties"]!.AsObject();
            // camelCase, as the relay reads and writes them, and each described from the contract's XML docs.
            Assert.Equal(type.GetProperties().Where(p => p.GetMethod!.IsPublic && !p.GetMethod.IsStatic).Select(p => char.ToLowerInvariant(p.Name[0]) + p.Name[1..]).Order(),
                properties.Select(p => p.Key).Order());
            Assert.All(properties, p => Assert.False(string.IsNullOrWhiteSpace((string?)p.Value!["description"]), $"{type.Name}.{p.Key} has no description"));
        }
        Assert.Equal(["email", "phone"], schemas["EnrichmentRequested"]!["properties"]!["fields"]!["items"]!["enum"]!.AsArray().Select(v => (string)v!));

        foreach (var pointer in References(document))
            Assert.True(Resolve(document, pointer) is not null, $"{pointer} does not resolve");
    }

    static IEnumerable<string> References(JsonNode? node) => node switch
    {
        JsonObject map => map.SelectMany(p => p.Key == "$ref" ? [(string)p.Value!] : References(p.Value)),
        JsonArray list => list.SelectMany(References),
        _ => [],
    };

    static JsonNode? Resolve(JsonNode document, string pointer) =>
        pointer.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Aggregate<string, JsonNode?>(document, (node, part) => node is JsonObject map && map.TryGetPropertyValue(part.Replace("~1", "/").Replace("~0", "~"), out var child) ? child : null);

    static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "EnrichmentRelay.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Cannot find EnrichmentRelay.sln");
    }
}
