using EnrichmentRelay.Contracts;
using FluentValidation;

namespace EnrichmentRelay.Requests;

public sealed class EnrichmentRequestedValidator : AbstractValidator<EnrichmentRequested>
{
    // Generous on purpose: correlation data stays in our store, so callers are not bound by
    // Precept's 5 x 100 customData limit. The promise in the README is 32 keys x 1,024 characters.
    public const int MaxCorrelationKeys = 64;
    public const int MaxCorrelationKeyLength = 256;
    public const int MaxCorrelationValueLength = 4096;
    const int MaxNameLength = 256;

    public EnrichmentRequestedValidator(RequestRouting routing)
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
            .OverridePropertyName("correlationData");
        RuleForEach(r => r.CorrelationData)
            .Must(kv => kv.Key.Length is > 0 and <= MaxCorrelationKeyLength)
            .WithMessage($"'correlationData' keys must be 1 to {MaxCorrelationKeyLength} characters.")
            .Must(kv => kv.Value is not null && kv.Value.Length <= MaxCorrelationValueLength)
            .WithMessage($"'correlationData' values must be present and at most {MaxCorrelationValueLength} characters.")
            .OverridePropertyName("correlationData");

        When(r => r.Lead is not null, () =>
        {
            RuleFor(r => r.Lead!.FirstName).MaximumLength(MaxNameLength).OverridePropertyName("lead.firstName");
            RuleFor(r => r.Lead!.LastName).MaximumLength(MaxNameLength).OverridePropertyName("lead.lastName");
            RuleFor(r => r.Lead!.CompanyName).MaximumLength(MaxNameLength).OverridePropertyName("lead.companyName");
            RuleFor(r => r.Lead!.CompanyDomain).MaximumLength(MaxNameLength).OverridePropertyName("lead.companyDomain");
            RuleFor(r => r.Lead!.Email).EmailAddress().When(r => r.Lead!.Email is not null).OverridePropertyName("lead.email");
            RuleFor(r => r.Lead!.LinkedInUrl)
                .Must(BeAbsoluteHttpUrl).When(r => r.Lead!.LinkedInUrl is not null)
                .WithMessage("'lead.linkedInUrl' must be an absolute http(s) URL.")
                .OverridePropertyName("lead.linkedInUrl");

            // Routing is part of validity: a lead no enabled provider can identify is refused now,
            // with the reason, rather than failing later at the provider.
            RuleFor(r => r)
                .Custom((request, context) =>
                {
                    var (provider, whyNot) = routing.Route(request);
                    if (provider is null)
                        context.AddFailure("lead", whyNot);
                });
        });
    }

    static bool BeAbsoluteHttpUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);
}
