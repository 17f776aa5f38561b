using System.Text.Json;
using EnrichmentRelay.Access;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EnrichmentRelay.Cache;

/// <summary>
/// The identity cache (<c>Cache:*</c>): stored with every completion, looked up at intake; and <c>DELETE
/// /admin/identities</c>, which forgets a person (GDPR-style erasure of what the cache keeps).
/// </summary>
public static class IdentityCacheApi
{
    public static IHostApplicationBuilder AddIdentityCache(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CacheOptions>().BindConfiguration(CacheOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<IdentityCache>();
        builder.Services.AddScoped<ICompletionStaging>(sp => sp.GetRequiredService<IdentityCache>());
        // Identical requests in flight at once share one provider call.
        builder.Services.AddScoped<Coalescing>();
        builder.Services.AddHostedService<FollowerSweep>();
        return builder;
    }

    public static RouteGroupBuilder MapIdentities(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/identities").WithTags("Admin");
        group.MapDelete("/", ForgetAsync)
            .WithSummary("Forgets a person: deletes what the identity cache keeps of them")
            .WithDescription("Name the person by any identifier the relay keys its cache on: email, linkedIn (a profile URL), uid (a Woodpecker " +
                             "Lead Finder uid), lancePersonId, or firstName + lastName + companyDomain. Every cache row stored under it goes, and " +
                             "in turn those under the other identifiers stored with them (the lead's other identifiers, the emails found). " +
                             "Answers how many rows and identity keys went (0 rows: the cache held nothing of them). Needs the X-Api-Key header.")
            .WithResponseExample(StatusCodes.Status200OK, "A person known by email and LinkedIn profile, with an email and a phone cached", Example);
        return group;
    }

    static async Task<Results<Ok<ForgottenIdentity>, ValidationProblem>> ForgetAsync(IdentityCache cache, ILoggerFactory loggers, CancellationToken ct,
        string? email = null, string? linkedIn = null, string? uid = null, string? lancePersonId = null,
        string? firstName = null, string? lastName = null, string? companyDomain = null)
    {
        var lead = new Lead
        {
            Email = email, LinkedInUrl = linkedIn, LancePersonId = lancePersonId, FirstName = firstName, LastName = lastName, CompanyDomain = companyDomain,
            WoodpeckerLead = string.IsNullOrWhiteSpace(uid) ? null : JsonSerializer.SerializeToElement(new { uid }),
        };
        var keys = IdentityKeys.Of(lead);
        if (keys.Count == 0)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["identity"] = ["Name the person: email, linkedIn (a profile URL), uid, lancePersonId, or firstName + lastName + companyDomain."],
            });
        var forgotten = await cache.ForgetAsync(keys, ct);
        // No identifier in the log: the operator knows whom they asked to forget.
        loggers.CreateLogger(typeof(IdentityCacheApi)).LogInformation(
            "An operator had a person forgotten: {RowsDeleted} identity cache rows under {IdentityKeys} keys deleted", forgotten.RowsDeleted, forgotten.IdentityKeys);
        return TypedResults.Ok(forgotten);
    }

    const string Example = """{"rowsDeleted":4,"identityKeys":3}""";
}
