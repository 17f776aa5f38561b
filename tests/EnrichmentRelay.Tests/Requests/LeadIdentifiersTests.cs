using EnrichmentRelay.Jobs;
using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Requests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using EnrichmentRelay.Serialization;

namespace EnrichmentRelay.Tests.Requests;

/// <summary>Identifiers put in canonical form at the door, and what a provider would refuse refused there with the reason.</summary>
public sealed class LeadIdentifiersTests : IAsyncLifetime
{
    const string ErlichPayload = """{"uid":"0SVOUN5zYlkzJ5fMrBxUdiQ_0000","first_name":"Erlich","last_name":"Bachman","linkedin_url":"linkedin.com/in/erlich-bachman-404xyz","company_name":"Bachmanity"}""";

    // The scripted provider stands in for Precept (it finds phones too); Woodpecker's own lanes decide what they can take.
    readonly LedgerTestHost host = new((services, _) =>
    {
        services.AddSingleton(Options.Create(new WoodpeckerOptions()));
        services.AddHttpClient<WoodpeckerClient>();
        services.AddScoped<IEnrichmentProvider, WoodpeckerLeadsProvider>();
        services.AddScoped<IEnrichmentProvider, WoodpeckerProspectsProvider>();
    });

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await host.DisposeAsync();

    EnrichmentRequestedValidator Validator() =>
        new(new Waterfall(host.Services.CreateScope().ServiceProvider.GetServices<IEnrichmentProvider>(), Options.Create(new WaterfallOptions())));

    [Fact]
    public void CanonicalFormsAreAppliedAndWhatCannotBeFormedIsLeftForTheValidator()
    {
        var request = LedgerTestHost.ValidRequest() with
        {
            Lead = new Lead
            {
                FirstName = "Jane", LastName = "Doe", CompanyName = "Acme",
                LinkedInUrl = "linkedin.com/in/erlich-bachman-404xyz",
                LancePersonId = "{550E8400-E29B-41D4-A716-446655440001}",
            },
        };

        var canonical = LeadIdentifiers.Canonical(request);

        Assert.Equal("https://www.linkedin.com/in/erlich-bachman-404xyz", canonical.Lead!.LinkedInUrl);
        Assert.Equal("550e8400-e29b-41d4-a716-446655440001", canonical.Lead.LancePersonId);
        Assert.Equal("Jane", canonical.Lead.FirstName);
        Assert.Same(canonical, LeadIdentifiers.Canonical(canonical));

        var blank = LeadIdentifiers.Canonical(request with { Lead = request.Lead with { LinkedInUrl = " ", LancePersonId = "" } });
        Assert.Null(blank.Lead!.LinkedInUrl);
        Assert.Null(blank.Lead.LancePersonId);

        var bad = LeadIdentifiers.Canonical(request with { Lead = request.Lead with { LinkedInUrl = "https://example.com/jane", LancePersonId = "person-42" } });
        Assert.Equal("https://example.com/jane", bad.Lead!.LinkedInUrl);
        Assert.Equal("person-42", bad.Lead.LancePersonId);
    }

    [Theory]
    [InlineData("linkedin.com/in/jane-doe")]
    [InlineData("https://uk.linkedin.com/in/jane-doe/?trk=x")]
    public void ALinkedInProfileInAnySpellingPasses(string url) =>
        Assert.True(Validator().Validate(LedgerTestHost.ValidRequest() with { Lead = new Lead { LinkedInUrl = url } }).IsValid);

    [Theory]
    [InlineData("https://www.linkedin.com/company/acme", "lead.linkedInUrl", "company page")]
    [InlineData("https://example.com/in/jane", "lead.linkedInUrl", "example.com is not LinkedIn")]
    public void WhatIsNotALinkedInProfileIsRefusedWithTheReason(string url, string field, string reason)
    {
        var result = Validator().Validate(LedgerTestHost.ValidRequest() with { Lead = LedgerTestHost.ValidRequest().Lead! with { LinkedInUrl = url } });

        var error = Assert.Single(result.Errors);
        Assert.Equal(field, error.PropertyName);
        Assert.Contains(reason, error.ErrorMessage);
    }

    [Theory]
    [InlineData("550e8400-e29b-41d4-a716-446655440001", true)]
    [InlineData("550E8400E29B41D4A716446655440001", true)]
    [InlineData("(550e8400-e29b-41d4-a716-446655440001)", true)]
    [InlineData("person-42", false)]
    public void LancePersonIdsAreUuidsInAnySpelling(string id, bool valid)
    {
        var result = Validator().Validate(LedgerTestHost.ValidRequest() with { Lead = LedgerTestHost.ValidRequest().Lead! with { LancePersonId = id } });

        Assert.Equal(valid, result.IsValid);
        if (!valid)
            Assert.Equal("lead.lancePersonId", Assert.Single(result.Errors).PropertyName);
    }

    [Theory]
    [InlineData("""{"full_name":"Erlich Bachman"}""", "lead.woodpeckerLead.uid")]
    [InlineData("""{"uid":"u","job_title_levels":"Cxo"}""", "lead.woodpeckerLead.job_title_levels")]
    [InlineData("""["u"]""", "lead.woodpeckerLead")]
    public void AWoodpeckerLeadIsCheckedAgainstTheQueuePagesSchema(string payload, string field)
    {
        var request = LedgerTestHost.ValidRequest() with { Lead = new Lead { WoodpeckerLead = JsonDocument.Parse(payload).RootElement.Clone() } };

        var result = Validator().Validate(request);

        Assert.Contains(result.Errors, e => e.PropertyName == field && e.ErrorMessage.Contains($"'{field}"));
    }

    [Fact]
    public void PhoneAloneIsNotForWoodpeckerButGoesToAProviderThatFindsPhones()
    {
        var payload = JsonDocument.Parse(ErlichPayload).RootElement.Clone();
        var onlyWoodpecker = new EnrichmentRequested
        {
            RequestId = Guid.NewGuid(), Lead = new Lead { WoodpeckerLead = payload }, Fields = [EnrichmentField.Phone],
        };

        var refused = Validator().Validate(onlyWoodpecker);
        Assert.Contains(refused.Errors, e => e.PropertyName == "lead" && e.ErrorMessage.Contains("Woodpecker: finds emails only"));

        // The same lead with what the phone-finding provider needs, and providers left open: routed there.
        var waterfall = new Waterfall(host.Services.CreateScope().ServiceProvider.GetServices<IEnrichmentProvider>(), Options.Create(new WaterfallOptions()));
        var open = onlyWoodpecker with { Lead = onlyWoodpecker.Lead! with { LinkedInUrl = "linkedin.com/in/erlich-bachman-404xyz" } };
        Assert.Equal(ProviderName.Precept, waterfall.First(open).Provider!.Name);
        Assert.True(Validator().Validate(open).IsValid);
        // ...but not when the producer allowed Woodpecker only.
        Assert.False(Validator().Validate(open with { Providers = [ProviderName.Woodpecker] }).IsValid);
        // Email and phone: Woodpecker takes it (the completion will say phone was not looked up).
        Assert.Equal(WoodpeckerLeads.LeadsLane, waterfall.First(open with { Fields = [EnrichmentField.Email, EnrichmentField.Phone] }).Provider!.Lane);
    }

    [Fact]
    public async Task EveryBusDoorStoresTheCanonicalForms()
    {
        Lead Spelled(string last) => new()
        {
            FirstName = "Jane", LastName = last, LinkedInUrl = $"www.linkedin.com/in/jane-{last}/", LancePersonId = "550E8400E29B41D4A716446655440001",
        };
        var single = LedgerTestHost.ValidRequest() with { Lead = Spelled("single") };
        var batched = LedgerTestHost.ValidRequest() with { Lead = Spelled("batched") };

        Assert.Equal(IntakeResult.Accepted, await host.ReceiveAsync(single));
        Assert.Equal([IntakeResult.Accepted], await host.ReceiveBatchAsync(new IncomingRequest(batched, null)));
        // The same request spelled differently is the same request: a repeat, not a different body.
        Assert.Equal(IntakeResult.Duplicate, await host.ReceiveAsync(single with { Lead = single.Lead! with { LinkedInUrl = "https://www.linkedin.com/in/jane-single" } }));

        var stored = (await host.RequestsAsync()).Select(LedgerViews.ReadRequest).ToDictionary(r => r.Lead!.LastName!);
        Assert.Equal("https://www.linkedin.com/in/jane-single", stored["single"].Lead!.LinkedInUrl);
        Assert.Equal("https://www.linkedin.com/in/jane-batched", stored["batched"].Lead!.LinkedInUrl);
        Assert.All(stored.Values, r => Assert.Equal("550e8400-e29b-41d4-a716-446655440001", r.Lead!.LancePersonId));
    }

    [Fact]
    public async Task ARefusedIdentifierIsAnsweredRejectedWithTheFieldNamed()
    {
        var request = LedgerTestHost.ValidRequest() with { Lead = LedgerTestHost.ValidRequest().Lead! with { LinkedInUrl = "https://www.linkedin.com/company/acme" } };

        Assert.Equal(IntakeResult.Rejected, await host.ReceiveAsync(request));

        var completed = JsonSerializer.Deserialize<EnrichmentCompleted>(Assert.Single(await host.OutboxAsync()).Body, RelayJson.Options)!;
        Assert.Equal(Outcome.Rejected, completed.Outcome);
        Assert.Contains("'lead.linkedInUrl' must be a LinkedIn profile URL", completed.Detail);
        Assert.Contains("company page", completed.Detail);
    }
}
