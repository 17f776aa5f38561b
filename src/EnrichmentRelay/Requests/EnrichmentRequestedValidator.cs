using System.Text.Json;
using EnrichmentRelay.Contracts;
using EnrichmentRelay.Jobs;
using EnrichmentRelay.Providers;
using EnrichmentRelay.Providers.Woodpecker;
using System.Text;
using FluentValidation;
using FluentValidation.Results;

namespace EnrichmentRelay.Requests;

public sealed class EnrichmentRequestedValidator : AbstractValidator<EnrichmentRequested>
{
    // Generous on purpose: correlation data stays in our store, so callers are not bound by
    // Precept's 5 x 100 customData limit. The promise in docs/messages.md is 32 keys x 1,024 characters.
    public const int MaxCorrelationKeys = 64;
    public const int MaxCorrelationKeyLength = 256;
    public const int MaxCorrelationValueLength = 4096;
    const int MaxNameLength = 256;

    // Limits at the door: what one request may make the relay store, load into a batch and send (docs/bad-input.md).
    public const int MaxUrlLength = 2048;
    public const int MaxEmailLength = 254;
    public const int MaxIdLength = 64;
    public const int MaxWoodpeckerLeadBytes = 16 * 1024;
    public const int MaxCorrelationDataBytes = 64 * 1024;
    /// <summary>The error code of a broken size limit: the part that broke it is not stored or echoed with the rejection.</summary>
    public const string OverLimit = "OverLimit";

    public EnrichmentRequestedValidator(Waterfall waterfall)
    {
        RuleFor(r => r.RequestId).NotEmpty().WithMessage("'requestId' must be a non-empty GUID.").OverridePropertyName("requestId");
        RuleFor(r => r.Lead).NotNull().WithMessage("'lead' is required.").OverridePropertyName("lead");
        RuleFor(r => r.Fields)
            .NotEmpty().WithMessage("'fields' must name at least one of: email, phone.")
            .Must(f => f is null || f.Distinct().Count() == f.Count).WithMessage("'fields' must not repeat a field.")
            .OverridePropertyName("fields");
        RuleFor(r => r.Providers)
            .Must(p => p is null || p.Distinct().Count() == p.Count).WithMessage("'providers' must not repeat a provider.")
            .OverridePropertyName("providers");

        RuleFor(r => r.CorrelationData)
            .Must(d => d is null || d.Count <= MaxCorrelationKeys)
            .WithMessage($"'correlationData' may hold at most {MaxCorrelationKeys} keys.")
            .WithErrorCode(OverLimit)
            .OverridePropertyName("correlationData");
        RuleForEach(r => r.CorrelationData)
            .Must(kv => kv.Key.Length is > 0 and <= MaxCorrelationKeyLength)
            .WithMessage($"'correlationData' keys must be 1 to {MaxCorrelationKeyLength} characters.")
            .WithErrorCode(OverLimit)
            .Must(kv => kv.Value is not null && kv.Value.Length <= MaxCorrelationValueLength)
            .WithMessage($"'correlationData' values must be present and at most {MaxCorrelationValueLength} characters.")
            .WithErrorCode(OverLimit)
            .OverridePropertyName("correlationData");
        AddSizeLimits();

        When(r => r.Lead is not null, () =>
        {
            RuleFor(r => r.Lead!.FirstName).MaximumLength(MaxNameLength).OverridePropertyName("lead.firstName");
            RuleFor(r => r.Lead!.LastName).MaximumLength(MaxNameLength).OverridePropertyName("lead.lastName");
            RuleFor(r => r.Lead!.CompanyName).MaximumLength(MaxNameLength).OverridePropertyName("lead.companyName");
            RuleFor(r => r.Lead!.CompanyDomain).MaximumLength(MaxNameLength).OverridePropertyName("lead.companyDomain");
            RuleFor(r => r.Lead!.Email).EmailAddress().When(r => r.Lead!.Email is not null).OverridePropertyName("lead.email");
            // Identifiers: what a provider would refuse is refused here, with the reason; what the providers themselves
            // produce (a LinkedIn URL without its scheme, a GUID in any spelling) is read. Intake puts them in their
            // canonical form (LeadIdentifiers) before this runs.
            RuleFor(r => r.Lead!.LinkedInUrl)
                .Custom((url, context) =>
                {
                    if (!string.IsNullOrWhiteSpace(url) && !LinkedInProfileUrl.TryCanonical(url, out _, out var whyNot))
                        context.AddFailure("lead.linkedInUrl",
                            $"'lead.linkedInUrl' must be a LinkedIn profile URL such as https://www.linkedin.com/in/jane-doe (the scheme may be left out), but {whyNot}.");
                });
            RuleFor(r => r.Lead!.LancePersonId)
                .Must(id => string.IsNullOrWhiteSpace(id) || Guid.TryParse(id.Trim(), out _))
                .WithMessage("'lead.lancePersonId' must be a Lance person id: a UUID such as 550e8400-e29b-41d4-a716-446655440001.")
                .OverridePropertyName("lead.lancePersonId");
            RuleFor(r => r.Lead!.WoodpeckerLead)
                .Custom((payload, context) =>
                {
                    if (payload is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } lead)
                        foreach (var (field, problem) in WoodpeckerLeads.PayloadProblems(lead))
                            context.AddFailure(field, problem);
                });

            // Routing is part of validity: a lead no enabled provider can identify is refused now,
            // with the reason, rather than failing later at the provider.
            RuleFor(r => r)
                .Custom((request, context) =>
                {
                    var (provider, whyNot, _) = waterfall.First(request);
                    if (provider is null)
                        context.AddFailure("lead", whyNot);
                });
        });
    }

    /// <summary>Kept apart from the rules above: sizes only, each failure marked <see cref="OverLimit"/>.</summary>
    void AddSizeLimits()
    {
        When(r => r.Lead is not null, () =>
        {
            RuleFor(r => r.Lead!.LinkedInUrl).MaximumLength(MaxUrlLength).WithErrorCode(OverLimit).OverridePropertyName("lead.linkedInUrl");
            RuleFor(r => r.Lead!.Email).MaximumLength(MaxEmailLength).WithErrorCode(OverLimit).OverridePropertyName("lead.email");
            RuleFor(r => r.Lead!.LancePersonId).MaximumLength(MaxIdLength).WithErrorCode(OverLimit).OverridePropertyName("lead.lancePersonId");
            RuleFor(r => r.Lead!.WoodpeckerLead)
                .Must(lead => lead is null || Encoding.UTF8.GetByteCount(lead.Value.GetRawText()) <= MaxWoodpeckerLeadBytes)
                .WithMessage($"'lead.woodpeckerLead' must be at most {MaxWoodpeckerLeadBytes} bytes of JSON.")
                .WithErrorCode(OverLimit).OverridePropertyName("lead.woodpeckerLead");
        });
        RuleFor(r => r.Fields).Must(f => f is null || f.Count <= Enum.GetValues<EnrichmentField>().Length)
            .WithMessage($"'fields' may name at most {Enum.GetValues<EnrichmentField>().Length} fields.")
            .WithErrorCode(OverLimit).OverridePropertyName("fields");
        RuleFor(r => r.Providers).Must(p => p is null || p.Count <= Enum.GetValues<ProviderName>().Length)
            .WithMessage($"'providers' may name at most {Enum.GetValues<ProviderName>().Length} providers.")
            .WithErrorCode(OverLimit).OverridePropertyName("providers");
        RuleFor(r => r.CorrelationData)
            .Must(d => d is null || d.Count > MaxCorrelationKeys
                       || d.Sum(kv => Encoding.UTF8.GetByteCount(kv.Key) + Encoding.UTF8.GetByteCount(kv.Value ?? "")) <= MaxCorrelationDataBytes)
            .WithMessage($"'correlationData' may hold at most {MaxCorrelationDataBytes} bytes of keys and values.")
            .WithErrorCode(OverLimit).OverridePropertyName("correlationData");
    }

    /// <summary>A failure of a size limit: the rules above, and the length limits of the names.</summary>
    public static bool IsOverLimit(ValidationFailure failure) => failure.ErrorCode is OverLimit or "MaximumLengthValidator";
}
