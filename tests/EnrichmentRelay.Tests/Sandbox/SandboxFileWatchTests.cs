using EnrichmentRelay.Sandbox;

namespace EnrichmentRelay.Tests.Sandbox;

/// <summary>
/// The sandbox reads no settings files, so it must not watch any: hosted in the relay (`dotnet run`) or in the
/// benchmark's driver, a watcher of the working directory (and everything below it) is woken by every write of a
/// SQLite ledger kept there, and the writer pays for each event in the kernel.
/// </summary>
[Collection(FileWatchCollection.Name)]
public sealed class SandboxFileWatchTests
{
    [Fact]
    public async Task StartingTheSandboxAddsNoFileWatches()
    {
        var before = InotifyWatches();

        await using var sandbox = await SandboxServer.StartAsync(new SandboxOptions { PreceptApiKey = "k" });

        // Not equal: a watcher another test left to its finalizer may close meanwhile.
        var after = InotifyWatches();
        Assert.True(after <= before, $"{after - before} inotify watches added (before: {before})");
    }

    /// <summary>The inotify watches this process holds, on all its inotify descriptors (Linux, where the relay runs).</summary>
    static int InotifyWatches()
    {
        var watches = 0;
        foreach (var info in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            try
            {
                watches += File.ReadLines(info).Count(line => line.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
            catch (IOException)
            {
                // A descriptor closed between the listing and the read.
            }
        }
        return watches;
    }
}

/// <summary>Alone, after the others: a host another test starts meanwhile would add watches of its own.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FileWatchCollection
{
    public const string Name = "file watches";
}
