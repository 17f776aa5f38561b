using EnrichmentRelay.Admin;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Outbox;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Webhooks;

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
builder.AddOperations();
// Operator routes under /admin need Admin:ApiKey; dead letters are what the consumers gave up on.
builder.AddAdmin();
builder.AddDeadLetters();

var app = builder.Build();

await app.PrepareLedgerAsync();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.MapEnrichmentApi();
app.MapSelectionsApi();
app.MapPreceptWebhooks();
app.MapOperations();
app.MapDeadLetters();

app.Run();
