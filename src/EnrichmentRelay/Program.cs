using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Outbox;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Webhooks;

// A wrong or contradictory setting stops the relay with one line naming it, not a stack trace.
InvalidSettings.ExitWithReport();
var builder = WebApplication.CreateBuilder(args);

// No provider configured: simulate them in-process, so the relay runs with no settings at all.
builder.AddEmbeddedSandbox();
// Request state, provider jobs, raw callbacks, inbox and outbox: one transaction per state change.
builder.AddLedger();
builder.AddRelayBus();
builder.AddOutbox();
builder.AddEnrichmentRequests();
builder.AddProviders();
builder.AddPreceptWebhooks();
// Health, /metrics, traces (OTLP when configured), OpenAPI and its reference UI.
builder.AddOperations();

var app = builder.Build();

// Every setting is checked before the ledger or the bus is touched.
app.ValidateSettings();
await app.PrepareLedgerAsync();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.MapEnrichmentApi();
app.MapSelectionsApi();
app.MapPreceptWebhooks();
app.MapOperations();

app.Run();
