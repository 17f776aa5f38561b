namespace EnrichmentRelay.Providers;

/// <summary>How the phone numbers a provider finds are written into results (each provider's <c>PhoneFormat</c> setting).</summary>
public enum PhoneFormat
{
    /// <summary>As the provider wrote them (trimmed).</summary>
    AsReceived,
    /// <summary>
    /// E.164 (<c>+15550123456</c>) where the number is international (it starts with <c>+</c> or <c>00</c>): spaces, dots,
    /// dashes, slashes and parentheses dropped. A number without its country code, or written with a trunk prefix
    /// (<c>(0)</c>) or an extension, is kept as received: nothing is guessed.
    /// </summary>
    E164,
}

public static class PhoneNumbers
{
    /// <summary><paramref name="phones"/> as <paramref name="format"/> writes them (one number written two ways counts once).</summary>
    public static List<string> Written(IEnumerable<string> phones, PhoneFormat format) =>
        format == PhoneFormat.E164 ? phones.Select(ToE164).Distinct(StringComparer.Ordinal).ToList() : phones.ToList();

    /// <summary>
    /// <paramref name="phone"/> in E.164 when it is an international number of 8 to 15 digits written with the usual
    /// separators; otherwise as it is.
    /// </summary>
    public static string ToE164(string phone)
    {
        var text = phone.Trim();
        var international = text.StartsWith('+') ? text[1..] : text.StartsWith("00", StringComparison.Ordinal) ? text[2..] : null;
        // "+44 (0)20 …": the national trunk prefix written beside the country code is not part of the number.
        if (international is null || international.Contains("(0)", StringComparison.Ordinal))
            return text;
        var digits = new System.Text.StringBuilder();
        foreach (var c in international)
        {
            if (char.IsAsciiDigit(c))
                digits.Append(c);
            else if (c is not (' ' or '.' or '-' or '/' or '(' or ')'))
                return text; // an extension, letters, …: not a plain number
        }
        return digits.Length is >= 8 and <= 15 && digits[0] != '0' ? "+" + digits : text;
    }
}
