using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EnrichmentRelay.Sandbox.Precept;

/// <summary>Why Precept would answer 400; the message goes back as <c>{"error": message}</c>.</summary>
sealed class PreceptBadRequest(string message) : Exception(message);

/// <summary>A validated <c>POST /v1/leads/enrich</c> body (providers.md §2.2 (a)).</summary>
sealed record EnrichRequest(string? Name, string? WebhookUrl, bool StreamingResults, IReadOnlyList<PreceptLead> Leads)
{
    public const int MaxLeads = 1000;

    /// <exception cref="PreceptBadRequest">The body breaks one of Precept's rules.</exception>
    public static EnrichRequest Parse(string body)
    {
        JsonNode? root;
        try
        {
            // Duplicate properties would otherwise only throw (an ArgumentException) when first read.
            root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new PreceptBadRequest($"Malformed JSON body: {e.Message}");
        }
        if (root is not JsonObject request)
            throw new PreceptBadRequest("The body must be a JSON object.");
        if (request["leads"] is not JsonArray leads || leads.Count == 0)
            throw new PreceptBadRequest("'leads' is required and must be a non-empty array.");
        if (leads.Count > MaxLeads)
            throw new PreceptBadRequest($"'leads' may hold at most {MaxLeads} leads; got {leads.Count}.");

        var parsed = leads.Select(PreceptLead.Parse).ToList();
        var webhookUrl = BodyFields.Text(request, "webhookUrl", "'webhookUrl'");
        if (webhookUrl is not null && !PreceptSettings.IsHttpUrl(webhookUrl))
            throw new PreceptBadRequest("'webhookUrl' must be an absolute http(s) URL.");
        // Read only to reject a wrong type: the simulator always includes contact details and never translates.
        BodyFields.Flag(request, "includeContactDetails");
        BodyFields.Flag(request, "translate");
        return new EnrichRequest(BodyFields.Text(request, "name", "'name'"), webhookUrl, BodyFields.Flag(request, "streamingResults") ?? false, parsed);
    }
}

/// <summary>One lead of a submit, with what the simulator derives from it.</summary>
sealed record PreceptLead(
    JsonObject Raw, string? LinkedinUrl, string? FirstName, string? LastName, string? CompanyName, string? CompanyDomain,
    bool WantsEmail, bool WantsPhone, JsonObject? CustomData)
{
    const int MaxCustomDataKeys = 5;
    const int MaxCustomDataValueLength = 100;

    /// <summary>What the lead costs if everything requested is found: reserved at submit, so a job never overdraws.</summary>
    public decimal MaxCost => 1 + (WantsEmail ? 1 : 0) + (WantsPhone ? 10 : 0);

    /// <summary>The key counters use to spot a lead submitted twice.</summary>
    public string Identity => (LinkedinUrl ?? $"{FirstName} {LastName} @ {CompanyName ?? CompanyDomain}").ToLowerInvariant();

    /// <summary>first.last@domain, the same for the same lead on every run.</summary>
    public string Email
    {
        get
        {
            var (first, last) = PersonName();
            var domain = CompanyDomain is not null ? Domain(CompanyDomain)
                : CompanyName is not null ? Slug(CompanyName) + ".example"
                : "linkedin.example";
            return (last.Length == 0 ? $"{first}@{domain}" : $"{first}.{last}@{domain}").ToLowerInvariant();
        }
    }

    /// <summary>+1555 and seven digits from a hash of the lead's identity: stable across runs and processes.</summary>
    public string Phone
    {
        get
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(Identity));
            return "+1555" + (BitConverter.ToUInt32(hash) % 10_000_000).ToString("D7");
        }
    }

    /// <summary><see cref="Phone"/> as Precept writes it under <paramref name="style"/>: <c>+1 555-012-3456</c> when spaced.</summary>
    public string PhoneIn(PhoneStyle style) => style.Write(Phone);

    (string First, string Last) PersonName()
    {
        if (FirstName is not null && LastName is not null)
            return (Slug(FirstName), Slug(LastName));
        // A LinkedIn-only lead: the profile slug carries the name (".../in/jane-doe-1a2b3c/").
        var path = Uri.TryCreate(LinkedinUrl, UriKind.Absolute, out var uri) ? uri.AbsolutePath : LinkedinUrl ?? "";
        var parts = path.TrimEnd('/').Split('/').Last().Split('-', StringSplitOptions.RemoveEmptyEntries);
        return (parts.Length > 0 ? Slug(parts[0]) : "lead", parts.Length > 1 ? Slug(parts[1]) : "");
    }

    static string Slug(string text) => string.Concat(text.ToLowerInvariant().Where(char.IsLetterOrDigit));

    /// <summary>"https://www.Acme.com/about" and "acme.com" are the same mailbox domain.</summary>
    static string Domain(string text)
    {
        var host = Uri.TryCreate(text.Contains("://") ? text : "http://" + text, UriKind.Absolute, out var uri) ? uri.Host : text;
        return (host.StartsWith("www.", StringComparison.OrdinalIgnoreCase) ? host[4..] : host).ToLowerInvariant();
    }

    /// <exception cref="PreceptBadRequest">The lead breaks one of Precept's rules; the message names its index.</exception>
    public static PreceptLead Parse(JsonNode? node, int index)
    {
        var at = $"leads[{index}]";
        if (node is not JsonObject lead)
            throw new PreceptBadRequest($"{at} must be an object.");
        var linkedin = BodyFields.Text(lead, "linkedinUrl", $"{at}.linkedinUrl");
        var first = BodyFields.Text(lead, "firstName", $"{at}.firstName");
        var last = BodyFields.Text(lead, "lastName", $"{at}.lastName");
        var company = BodyFields.Text(lead, "companyName", $"{at}.companyName");
        var domain = BodyFields.Text(lead, "companyDomain", $"{at}.companyDomain");
        if (linkedin is null && (first is null || last is null || company is null && domain is null))
            throw new PreceptBadRequest($"{at} needs a linkedinUrl, or a firstName, a lastName and a companyName or companyDomain.");

        var (wantsEmail, wantsPhone) = (true, true); // enrichType omitted: both
        switch (lead["enrichType"])
        {
            case null:
                break;
            case JsonArray types:
                var names = types.Select(t => t?.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : t?.ToJsonString()).ToList();
                if (names.FirstOrDefault(n => n is not ("emails" or "phones")) is { } unknown)
                    throw new PreceptBadRequest($"{at}.enrichType may only contain \"emails\" and \"phones\"; got {unknown}.");
                (wantsEmail, wantsPhone) = (names.Contains("emails"), names.Contains("phones"));
                break;
            default:
                throw new PreceptBadRequest($"{at}.enrichType must be an array of \"emails\" and \"phones\".");
        }

        var custom = lead["customData"];
        if (custom is not null and not JsonObject)
            throw new PreceptBadRequest($"{at}.customData must be an object of strings.");
        if (custom is JsonObject data)
        {
            if (data.Count > MaxCustomDataKeys)
                throw new PreceptBadRequest($"{at}.customData may have at most {MaxCustomDataKeys} properties; got {data.Count}.");
            foreach (var (key, value) in data)
            {
                if (value?.GetValueKind() != JsonValueKind.String)
                    throw new PreceptBadRequest($"{at}.customData.{key} must be a string.");
                if (value.GetValue<string>().Length > MaxCustomDataValueLength)
                    throw new PreceptBadRequest($"{at}.customData.{key} may be at most {MaxCustomDataValueLength} characters long.");
            }
        }
        return new PreceptLead(lead, linkedin, first, last, company, domain, wantsEmail, wantsPhone, custom as JsonObject);
    }
}

/// <summary>Typed reads of optional body fields: absent or null is "not given"; any other wrong type is a 400.</summary>
static class BodyFields
{
    public static string? Text(JsonObject obj, string name, string describedAs) => obj[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>() is { } s && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null,
        _ => throw new PreceptBadRequest($"{describedAs} must be a string."),
    };

    public static bool? Flag(JsonObject obj, string name) => obj[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw new PreceptBadRequest($"'{name}' must be true or false."),
    };
}
