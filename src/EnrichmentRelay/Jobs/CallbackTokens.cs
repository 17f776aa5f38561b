using System.Security.Cryptography;
using System.Text;

namespace EnrichmentRelay.Jobs;

/// <summary>
/// Per-job secrets for callback URLs. Only the SHA-256 of a token is stored, so the ledger cannot leak
/// working callback URLs, and a lookup by hash does not reveal a token's prefix through timing.
/// </summary>
public static class CallbackTokens
{
    public static string NewToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>The job's callback address: the relay's public address, Precept's callback route and the job's token.</summary>
    public static Uri Url(Uri publicBaseUrl, string token) =>
        new(publicBaseUrl, $"{Access.WebhookListener.PreceptCallbacks.TrimStart('/')}/{token}");

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Constant-time check of a presented token against a stored hash.</summary>
    public static bool Matches(string token, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(token)), Encoding.ASCII.GetBytes(storedHash));

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
