using System.Collections.Concurrent;
using System.Net;
using System.Text;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace EnrichmentRelay.IntegrationTests;

/// <summary>
/// With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, the relay exports its traces, and on PostgreSQL its database
/// commands are spans in them (Npgsql's instrumentation).
/// </summary>
public sealed class TraceExportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task OnPostgresTheExportedTracesHoldTheDatabaseCommands()
    {
        await using var collector = OtlpCollector.Start();
        await using var scenario = await RelayScenario.StartAsync(Engine.Postgres, settings: new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            // Export every 200 ms instead of every 5 s.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var request = new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(),
            Lead = new Lead { FirstName = "Jane", LastName = "Traced", CompanyName = "Acme", CompanyDomain = "acme.com" },
            Fields = [EnrichmentField.Email],
        };

        await scenario.Bus.PublishAsync(request);
        await scenario.Bus.WaitForCompletionsAsync([request.RequestId], TimeSpan.FromSeconds(60));

        // OTLP protobuf keeps strings as UTF-8 bytes: the scope name and the attribute values can be found as they are.
        await Eventually.TrueAsync(() => collector.TraceExports.Any(IsDatabaseSpan), TimeSpan.FromSeconds(30), "an exported trace batch with Npgsql's spans");
        output.WriteLine($"[figure] OTLP trace export on PostgreSQL: {collector.TraceExports.Count} batches received, " +
                         $"{collector.TraceExports.Count(IsDatabaseSpan)} with database spans (scope Npgsql, db postgresql, with the SQL)");
    }

    /// <summary>Npgsql's scope, the database system, and the SQL text (an attribute only database instrumentation sets).</summary>
    static bool IsDatabaseSpan(string otlpBody) =>
        otlpBody.Contains("Npgsql") && otlpBody.Contains("postgresql") && (otlpBody.Contains("db.query.text") || otlpBody.Contains("db.statement"));

    /// <summary>A stand-in OTLP/HTTP collector: keeps what arrives at /v1/traces and answers 200 to every signal.</summary>
    sealed class OtlpCollector : IAsyncDisposable
    {
        readonly HttpListener listener = new();
        readonly Task loop;
        public ConcurrentBag<string> TraceExports { get; } = [];
        public string Endpoint { get; }

        OtlpCollector()
        {
            var port = RelayProcess.FreePort();
            Endpoint = $"http://127.0.0.1:{port}";
            listener.Prefixes.Add(Endpoint + "/");
            listener.Start();
            loop = Task.Run(ReceiveAsync);
        }

        public static OtlpCollector Start() => new();

        async Task ReceiveAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                if (context.Request.Url!.AbsolutePath == "/v1/traces")
                    TraceExports.Add(Encoding.UTF8.GetString(body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }

        public async ValueTask DisposeAsync()
        {
            listener.Stop();
            listener.Close();
            await loop;
        }
    }
}
