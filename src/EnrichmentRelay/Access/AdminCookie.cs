using System.Security.Cryptography;
using System.Text;

namespace EnrichmentRelay.Access;

/// <summary>
/// The cookie the dashboard's unlock form sets once the admin key was entered. It holds when it was issued and a MAC of
/// that under the admin key, never the key: it proves the key was entered, expires on the server's clock (a copied
/// cookie too), stops working when the key changes, and gives nothing away if read.
/// </summary>
public static class AdminCookie
{
    const string Name = "relay-dashboard";
    static readonly TimeSpan UnlockedFor = TimeSpan.FromHours(12);

    public static void Issue(HttpContext http, string adminKey, DateTimeOffset now, bool secure) =>
        http.Response.Cookies.Append(Name, Value(adminKey, now), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = secure,
            MaxAge = UnlockedFor,
        });

    /// <summary>Whether the request carries an unexpired cookie of the current admin key.</summary>
    public static bool IsUnlocked(HttpContext http, AdminOptions admin)
    {
        if (admin.ApiKey is not { Length: > 0 } key || http.Request.Cookies[Name] is not { } presented
            || !long.TryParse(presented.Split('.')[0], out var seconds))
            return false;
        var issued = DateTimeOffset.FromUnixTimeSeconds(seconds);
        var age = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow() - issued;
        return age >= TimeSpan.Zero && age <= UnlockedFor
               && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presented), Encoding.ASCII.GetBytes(Value(key, issued)));
    }

    static string Value(string adminKey, DateTimeOffset issued)
    {
        var stamp = issued.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return stamp + "." + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(adminKey), Encoding.UTF8.GetBytes("enrichment-relay dashboard " + stamp)));
    }
}
