namespace EnrichmentRelay.Hosting;

/// <summary>
/// <c>dotnet EnrichmentRelay.dll --healthcheck [url]</c>: the container's health check. The ASP.NET runtime
/// image has neither curl nor wget, so the relay's own binary asks its health endpoint and exits 0 when it
/// answers 2xx, 1 otherwise, without starting a relay (no configuration, database or bus is touched).
/// </summary>
public static class HealthProbe
{
    public const string Flag = "--healthcheck";
    public const string DefaultUrl = "http://127.0.0.1:8080/health/live";
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static bool IsRequested(string[] args) => args.Length > 0 && args[0] == Flag;

    public static async Task<int> RunAsync(string[] args)
    {
        var url = args.Length > 1 ? args[1] : DefaultUrl;
        using var http = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await http.GetAsync(url);
            Console.WriteLine($"{url}: {(int)response.StatusCode} {response.ReasonPhrase}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException or UriFormatException)
        {
            Console.Error.WriteLine($"{url}: {e.Message}");
            return 1;
        }
    }
}
