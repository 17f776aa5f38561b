using System.ComponentModel.DataAnnotations;
using EnrichmentRelay.Contracts;

namespace EnrichmentRelay.Budgets;

/// <summary>What happens to requests that do not fit what is left of their provider's daily cap.</summary>
public enum WhenBudgetExhausted
{
    /// <summary>They stay accepted and go out when room comes back: reservations settled below their worst case, an operator's higher cap, or the next UTC day.</summary>
    Wait,

    /// <summary>They complete <c>insufficientCredits</c> with the detail "budget", once no reservation of the day is still open (one that settles may free room).</summary>
    Complete,
}

public sealed class BudgetsOptions : IValidatableObject
{
    public const string Section = "Budgets";

    public WhenBudgetExhausted WhenExhausted { get; set; } = WhenBudgetExhausted.Wait;

    /// <summary>How often open reservations are settled and the budget gauges read; also how soon a waiting batch looks again.</summary>
    public TimeSpan SettleInterval { get; set; } = TimeSpan.FromSeconds(2);

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (!Enum.IsDefined(WhenExhausted))
            yield return new ValidationResult("Budgets:WhenExhausted must be Wait or Complete.", [nameof(WhenExhausted)]);
        if (SettleInterval < TimeSpan.FromMilliseconds(100) || SettleInterval > TimeSpan.FromHours(1))
            yield return new ValidationResult("Budgets:SettleInterval must be between 100 ms and 1 hour.", [nameof(SettleInterval)]);
    }
}

/// <summary>
/// A provider's budget and price table. The cap and the ceiling are the starting values: an operator's values set
/// through <c>PUT /admin/budgets/{provider}</c> (kept in the ledger, seen by every instance) replace them until deleted.
/// Prices move, so they are settings: a submit reserves its worst case, <see cref="PricePerLead"/> plus the price of
/// each field asked, per lead.
/// </summary>
public abstract class ProviderBudgetOptions : IValidatableObject
{
    public const decimal MaxCredits = 1_000_000_000m;

    public abstract ProviderName Provider { get; }

    /// <summary>Credits per UTC day, reserved and charged together; unset, no limit.</summary>
    public decimal? DailyCap { get; set; }

    /// <summary>The most one request may cost at worst; a request over it completes <c>insufficientCredits</c> "budget" without a call. Unset, no limit.</summary>
    public decimal? PerRequestCeiling { get; set; }

    /// <summary>Charged per lead submitted, found or not.</summary>
    public decimal PricePerLead { get; set; }

    /// <summary>Charged per lead when an email is asked (at worst: when one is found).</summary>
    public decimal PricePerEmail { get; set; }

    /// <summary>Charged per lead when a phone is asked (at worst: when one is found).</summary>
    public decimal PricePerPhone { get; set; }

    /// <summary>
    /// What a job that ends with no charge reported settles at: false releases its reservation (the provider said
    /// nothing was charged), true keeps the worst case as charged (for a provider that never reports what it charged).
    /// </summary>
    public bool KeepWorstCaseWhenUnreported { get; set; }

    /// <summary>The worst case of one request: the lead's price plus each field's (no field named asks for both).</summary>
    public decimal WorstCase(IReadOnlyList<EnrichmentField>? fields)
    {
        var all = fields is null or { Count: 0 };
        return PricePerLead
               + (all || fields!.Contains(EnrichmentField.Email) ? PricePerEmail : 0)
               + (all || fields!.Contains(EnrichmentField.Phone) ? PricePerPhone : 0);
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        var section = $"{BudgetsOptions.Section}:{Provider}";
        foreach (var (name, value) in new (string, decimal?)[]
                 {
                     (nameof(DailyCap), DailyCap), (nameof(PerRequestCeiling), PerRequestCeiling), (nameof(PricePerLead), PricePerLead),
                     (nameof(PricePerEmail), PricePerEmail), (nameof(PricePerPhone), PricePerPhone),
                 })
            if (value is < 0 or > MaxCredits)
                yield return new ValidationResult($"{section}:{name} must be between 0 and {MaxCredits:0}.", [name]);
    }
}

/// <summary>Precept: 1 credit per lead, +1 per email and +10 per phone found (docs.preceptai.co.uk, essentials/credits).</summary>
public sealed class PreceptBudgetOptions : ProviderBudgetOptions
{
    public const string Section = "Budgets:Precept";
    public override ProviderName Provider => ProviderName.Precept;

    public PreceptBudgetOptions()
    {
        PricePerLead = 1m;
        PricePerEmail = 1m;
        PricePerPhone = 10m;
    }
}

/// <summary>Woodpecker Lead Finder: 1.5 credits per lead whose email it finds; it finds no phones.</summary>
public sealed class WoodpeckerBudgetOptions : ProviderBudgetOptions
{
    public const string Section = "Budgets:Woodpecker";
    public override ProviderName Provider => ProviderName.Woodpecker;

    public WoodpeckerBudgetOptions() => PricePerEmail = 1.5m;
}

/// <summary>
/// Lance: one enrichment per field, charged per new record; its price per enrichment is not published, so the
/// default is that of Providers:Lance:CreditsPerEnrichment (1), by which the relay counts what Lance charged.
/// </summary>
public sealed class LanceBudgetOptions : ProviderBudgetOptions
{
    public const string Section = "Budgets:Lance";
    public override ProviderName Provider => ProviderName.Lance;

    public LanceBudgetOptions()
    {
        PricePerEmail = 1m;
        PricePerPhone = 1m;
    }
}
