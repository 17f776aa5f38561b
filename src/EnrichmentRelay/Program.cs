using EnrichmentRelay.Access;
using EnrichmentRelay.Budgets;
using EnrichmentRelay.Cache;
using EnrichmentRelay.Costs;
using EnrichmentRelay.Dashboard;
using EnrichmentRelay.DeadLetters;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Operations;
using EnrichmentRelay.Outbox;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Renormalize;
using EnrichmentRelay.Requests;
using EnrichmentRelay.Requests.Selections;
using EnrichmentRelay.Webhooks;
using EnrichmentRelay.LocalMode;

// A wrong or contradictory setting stops the relay with one line naming it, not a stack trace.
InvalidSettings.ExitWithReport();

// The container health check runs the relay's own binary (the runtime image has no curl).
if (HealthProbe.IsRequested(args))
    return await HealthProbe.RunAsync(args);
// `--check-settings`: report the settings' problems (exit 78) or that there are none (exit 0), and take no work.
var checkOnly = InvalidSettings.IsCheckRequested(ref args);

// The migrations as a deploy step (Kubernetes Job, CI): apply them and exit, without starting the relay.
if (MigrateCommand.IsRequested(args))
    return await MigrateCommand.RunAsync(args);

// appsettings.json is read from beside the binary, so the current directory is the caller's (`dotnet run` keeps it):
// relative paths such as the default SQLite ledger land where the relay was started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// Public URL for callbacks, trusted reverse proxies, and a stop that lets work in progress finish.
builder.AddRelayHosting();
// Client and admin keys, and Precept's webhook on a listener of its own: no paid route open to strangers.
builder.AddApiKeyAccess();

// Zero-settings local mode (in-memory bus, no provider address) or Sandbox:Enabled: simulate the providers in-process.
builder.AddEmbeddedSandbox();
// Request state, provider jobs, raw callbacks, inbox and outbox: one transaction per state change.
builder.AddLedger();
builder.AddOutbox();
builder.AddEnrichmentRequests();
// The second way in: Lance selections (one request per person Lance selects, then a summary).
builder.AddLanceSelections();
builder.AddProviders();
// Batching, submits, polls, deadlines and every job's fate, the same for every provider.
builder.AddJobs();
// Per provider: a daily credit cap and a per-request ceiling, reserved before every submit (/admin/budgets).
builder.AddBudgets();
// What providers found per person (email, LinkedIn, name at a domain, provider ids), reused for Cache:FoundFor: no second charge.
builder.AddIdentityCache();
builder.AddPreceptWebhooks();
// Health, /metrics, traces (OTLP when configured), OpenAPI and its reference UI.
builder.AddOperations();
// Operator routes under /admin need Admin:ApiKey; dead letters are what the consumers gave up on.
builder.AddAdmin();
builder.AddDeadLetters();
// Per provider and field: requests, contacts found, hit rate and credits (/admin/costs and the dashboard).
builder.AddCosts();
// After a mapping fix: stored provider answers translated again, corrections published (/admin/renormalize).
builder.AddRenormalization();
// What an operator looks at: / (counts, chart, stuck work, dead letters) and each request's history.
builder.AddDashboard();
// Last: the bus takes the consumers and endpoint conventions the features above registered.
builder.AddRelayBus();

var app = builder.Build();

// Every setting is checked before the ledger or the bus is touched.
app.ValidateSettings();
if (checkOnly)
    return InvalidSettings.ReportValid();
await app.PrepareLedgerAsync();

app.UseForwardedHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseRateLimiter();
app.UseApiKeyAccess();
app.MapEnrichmentApi();
app.MapSelectionsApi();
app.MapPreceptWebhooks();
app.MapOperations();
app.MapDeadLetters();
app.MapJobs();
app.MapCosts();
app.MapBudgets();
app.MapRenormalization();
app.MapIdentities();
app.MapDashboard();

app.Run();
return 0;
