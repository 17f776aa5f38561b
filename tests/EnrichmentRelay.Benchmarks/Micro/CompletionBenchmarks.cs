using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Serialization;
using EnrichmentRelay.Jobs;

namespace EnrichmentRelay.Benchmarks.Micro;

/// <summary>
/// The CPU work per lead between a Precept callback and its outbox row: read the callback (1,000 results), normalise
/// each result, and build each EnrichmentCompleted with its outbox body. Plus the webhook's token hash.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class CompletionBenchmarks
{
    string callback = "";
    EnrichmentRequestRecord[] records = [];
    readonly ProviderJobRecord job = new() { Id = Guid.NewGuid(), Lane = "precept", Provider = ProviderName.Precept, ExternalId = "job-1" };
    readonly string token = CallbackTokens.NewToken();

    [GlobalSetup]
    public void Setup()
    {
        var requests = Enumerable.Range(0, 1000).Select(i => new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = $"Doe{i}", CompanyName = "Acme" },
            Fields = [EnrichmentField.Email, EnrichmentField.Phone],
            CorrelationData = new Dictionary<string, string> { ["crmId"] = $"0031t0000{i:D7}" },
        }).ToList();
        records = requests.Select(r => new EnrichmentRequestRecord
        {
            RequestId = r.RequestId,
            RequestJson = JsonSerializer.Serialize(r, RelayJson.Options),
            State = RequestState.Completed,
            Outcome = Outcome.Found,
            EmailsJson = "[\"jane.doe@acme.com\"]",
            PhonesJson = "[\"+15550100\"]",
            AcceptedAt = DateTimeOffset.UtcNow,
            CompletedAt = DateTimeOffset.UtcNow,
        }).ToArray();
        callback = new JsonObject
        {
            ["enrichment_id"] = "job-1",
            ["status"] = "completed",
            ["results"] = new JsonArray(requests.Select(r => (JsonNode)new JsonObject
            {
                ["first_name"] = "Jane",
                ["last_name"] = r.Lead!.LastName,
                ["company_name"] = "Acme",
                ["custom_data"] = new JsonObject { [PreceptResults.RequestKey] = r.RequestId.ToString() },
                ["enrich_email"] = "jane.doe@acme.com",
                ["enrich_phone"] = "+15550100",
            }).ToArray()),
        }.ToJsonString();
    }

    [Benchmark(Description = "read a 1,000-result callback and normalise each result")]
    public int ReadAndNormaliseCallback()
    {
        using var doc = JsonDocument.Parse(callback);
        var report = PreceptJobReport.Read(doc.RootElement);
        var found = 0;
        foreach (var item in report.Results)
            if (PreceptResults.RequestIdOf(item) is not null
                && PreceptResults.Normalize(item, [EnrichmentField.Email, EnrichmentField.Phone]).Outcome == Outcome.Found)
                found++;
        return found;
    }

    [Benchmark(Description = "1,000 completions: event + outbox row")]
    public int BuildCompletions()
    {
        var bytes = 0;
        foreach (var record in records)
        {
            var completed = LedgerViews.ToCompletedEvent(record, job, []);
            bytes += OutboxRows.For(completed, completed.EventId, completed.CompletedAt).Body.Length;
        }
        return bytes;
    }

    [Benchmark(Description = "webhook token hash")]
    public string HashToken() => CallbackTokens.Hash(token);
}
