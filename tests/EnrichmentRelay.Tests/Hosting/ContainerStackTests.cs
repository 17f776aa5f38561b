using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using EnrichmentRelay.Messaging;
using EnrichmentRelay.Providers.Lance;
using EnrichmentRelay.Providers.Precept;
using EnrichmentRelay.Providers.Woodpecker;
using EnrichmentRelay.Sandbox;
using Microsoft.Extensions.Configuration;
using Npgsql;
using EnrichmentRelay.LocalMode;

namespace EnrichmentRelay.Tests.Hosting;

/// <summary>
/// Docker is not available where the tests run, so compose.yaml and infra/Dockerfile are checked as data
/// against the relay itself: every setting a replica is given names a real option and passes the relay's
/// own start-up validation, and the replicas, broker, database and sandbox agree with one another.
/// </summary>
public sealed class ContainerStackTests
{
    readonly ContainerStack stack = ContainerStack.Load();

    [Fact]
    public void TheStackHasTwoRelayReplicasTheSandboxRabbitMqAndPostgres()
    {
        Assert.True(stack.Relays.Count >= 2, $"relay replicas: {string.Join(", ", stack.Relays.Select(r => r.Name))}");
        Assert.NotNull(stack.Sandbox);
        Assert.NotNull(stack.ServiceWithImage("rabbitmq"));
        Assert.NotNull(stack.ServiceWithImage("postgres"));
        Assert.EndsWith("-management", stack.ServiceWithImage("rabbitmq").ImageTag);
    }

    [Fact]
    public void EveryServiceHasAHealthCheckThatTheImageCanRun()
    {
        foreach (var service in stack.Services.Values)
        {
            Assert.True(service.HealthCheckTest is { Count: > 1 }, $"{service.Name} has no health check");
            Assert.Contains(service.HealthCheckTest[0], new[] { "CMD", "CMD-SHELL" });
            // The ASP.NET runtime image has no curl or wget.
            if (service.Build is not null)
                Assert.DoesNotContain(service.HealthCheckTest, part => part.Contains("curl") || part.Contains("wget"));
        }
        foreach (var relay in stack.Relays)
            Assert.Equal(["CMD", "dotnet", "EnrichmentRelay.dll", HealthProbe.Flag], relay.HealthCheckTest!.Take(4));
    }

    [Fact]
    public void EveryImageIsPinnedToAVersion()
    {
        foreach (var service in stack.Services.Values)
        {
            if (service.Build is not null)
                continue; // built here, from the pinned images of the Dockerfile (checked below)
            Assert.True(service.Image is not null, $"{service.Name} has neither image nor build");
            AssertPinned(service.Image!, service.Name);
        }
        // The base images to a patch release, so a rebuild gives the same image.
        foreach (var stage in stack.Dockerfile.Stages.Where(s => !stack.Dockerfile.Stages.Any(other => other.Name == s.From)))
            Assert.Matches(@"^\d+\.\d+\.\d+$", ComposeService.SplitImage(stage.From).Tag ?? $"Dockerfile stage {stage.Name}: {stage.From} has no tag");
    }

    [Fact]
    public void TheBrokerIsASupportedRabbitMq4Release()
    {
        var tag = stack.ServiceWithImage("rabbitmq").ImageTag!;
        Assert.Matches(@"^4\.\d+\.\d+-management$", tag);
    }

    [Fact]
    public void TheBuiltImagesAreTaggedWithTheReleaseVersion()
    {
        var version = ReleaseVersion.Read();
        foreach (var service in stack.Services.Values.Where(s => s.Build is not null))
            Assert.True(service.ImageTag == version, $"{service.Name}: image '{service.Image}' is not tagged {version} (Directory.Build.props VersionPrefix)");
        // The relay's own assemblies carry the same version (what /metrics and traces report as service.version).
        Assert.StartsWith(version + "+", typeof(RelayOptions).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion + "+");
    }

    static void AssertPinned(string image, string where)
    {
        var tag = ComposeService.SplitImage(image).Tag;
        Assert.True(tag is not null && tag != "latest" && tag.Any(char.IsDigit), $"{where}: image '{image}' is not pinned to a version");
    }

    [Fact]
    public void NamedVolumesAreDeclaredAndUsedAndHoldTheBrokerAndDatabaseState()
    {
        var used = stack.Services.Values.SelectMany(s => s.Volumes).Select(v => v.Split(':')[0])
            .Where(source => !source.StartsWith('.') && !source.StartsWith('/') && !source.StartsWith('~')).ToHashSet();
        Assert.Subset(stack.DeclaredVolumes.ToHashSet(), used);
        Assert.Subset(used, stack.DeclaredVolumes.ToHashSet());
        Assert.Contains(stack.ServiceWithImage("rabbitmq").Volumes, v => v.EndsWith(":/var/lib/rabbitmq") && stack.DeclaredVolumes.Contains(v.Split(':')[0]));
        Assert.Contains(stack.ServiceWithImage("postgres").Volumes, v => v.EndsWith(":/var/lib/postgresql/data") && stack.DeclaredVolumes.Contains(v.Split(':')[0]));
    }

    [Fact]
    public void ThePostgresServerIsSizedAsTheMeasuredClustersAreAndStaysDurable()
    {
        // The figures in docs/performance.md ran on clusters sized by infra/postgres/start.sh; a stack left at initdb's
        // defaults would not be the server they describe.
        var script = File.ReadAllText(Path.Combine(ContainerStack.RepositoryRoot(), "infra", "postgres", "start.sh"));
        var command = stack.ServiceWithImage("postgres").Command ?? [];
        var given = command.Zip(command.Skip(1)).Where(p => p.First == "-c").Select(p => p.Second.Split('=', 2))
            .ToDictionary(setting => setting[0], setting => setting[1]);
        foreach (var name in new[] { "shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression" })
        {
            var measured = Regex.Match(script, $@"^{name} = (\S+)$", RegexOptions.Multiline);
            Assert.True(measured.Success, $"infra/postgres/start.sh sets no {name}");
            Assert.Equal(measured.Groups[1].Value, given.GetValueOrDefault(name));
        }
        Assert.DoesNotContain("fsync", given.Keys);
        Assert.DoesNotContain("synchronous_commit", given.Keys);
    }

    [Fact]
    public void EverySettingGivenToARelayIsARealOptionOfTheRelay()
    {
        foreach (var relay in stack.Relays)
        {
            var problems = stack.EffectiveEnvironment(relay).Keys
                .Where(key => !IsFrameworkSetting(key) && !key.Equals(ConfigKey(EmbeddedSandbox.EnabledKey), StringComparison.OrdinalIgnoreCase))
                .Select(key => RelayOptionTypes.WhyNotAnOption(key.Replace("__", ":")))
                .OfType<string>().ToList();
            Assert.True(problems.Count == 0, $"{relay.Name}: {string.Join("; ", problems)}");
        }
    }

    [Fact]
    public void TheOptionsCheckCatchesATypo()
    {
        Assert.Null(RelayOptionTypes.WhyNotAnOption("Providers:Woodpecker:TargetCampaignIds:0"));
        Assert.Contains("BusOptions has no property 'Hots'", RelayOptionTypes.WhyNotAnOption("Bus:Hots"));
        Assert.Contains("no options section", RelayOptionTypes.WhyNotAnOption("Providers:Precep:BaseUrl"));
    }

    [Fact]
    public void EveryRelayPassesTheRelaysOwnStartUpValidation()
    {
        foreach (var relay in stack.Relays)
        {
            var configuration = Configuration(stack.EffectiveEnvironment(relay));
            foreach (var (section, type) in RelayOptionTypes.BySection)
            {
                var options = Activator.CreateInstance(type)!;
                configuration.GetSection(section).Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
                var results = new List<ValidationResult>();
                var valid = Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
                Assert.True(valid, $"{relay.Name} {type.Name}: {string.Join("; ", results.Select(r => r.ErrorMessage))}");
            }
        }
    }

    [Fact]
    public void TheReplicasShareTheBrokerAndTheDatabase()
    {
        var rabbit = stack.ServiceWithImage("rabbitmq");
        var postgres = stack.ServiceWithImage("postgres");
        var shared = stack.Relays.Select(relay =>
        {
            var configuration = Configuration(stack.EffectiveEnvironment(relay));
            var bus = configuration.GetSection(BusOptions.Section).Get<BusOptions>()!;
            var ledger = configuration.GetSection(LedgerOptions.Section).Get<LedgerOptions>()!;
            Assert.Equal(BusTransport.RabbitMq, bus.Transport);
            Assert.Equal(rabbit.Name, bus.Host);
            // guest may only connect from localhost: the broker must have the relay's user.
            Assert.NotEqual("guest", bus.Username);
            Assert.Equal(rabbit.Environment.GetValueOrDefault("RABBITMQ_DEFAULT_USER"), bus.Username);
            Assert.Equal(rabbit.Environment.GetValueOrDefault("RABBITMQ_DEFAULT_PASS"), bus.Password);
            Assert.Equal(LedgerEngine.Postgres, ledger.Engine);
            var connection = new NpgsqlConnectionStringBuilder(ledger.ConnectionString);
            Assert.Equal(postgres.Name, connection.Host);
            Assert.Equal(postgres.Environment["POSTGRES_DB"], connection.Database);
            Assert.Equal(postgres.Environment["POSTGRES_USER"], connection.Username);
            Assert.Equal(postgres.Environment["POSTGRES_PASSWORD"], connection.Password);
            Assert.Equal("service_healthy", relay.DependsOn.GetValueOrDefault(rabbit.Name));
            Assert.Equal("service_healthy", relay.DependsOn.GetValueOrDefault(postgres.Name));
            return (bus.Host, bus.Port, bus.VirtualHost, ledger.ConnectionString);
        }).Distinct().ToList();
        Assert.Single(shared);
    }

    [Fact]
    public void EveryEnabledProviderIsTheSandboxContainerWithItsKeys()
    {
        var sandbox = stack.Sandbox;
        var sandboxOptions = new SandboxOptions();
        Configuration(stack.EffectiveEnvironment(sandbox)).GetSection(SandboxProgram.Section).Bind(sandboxOptions);
        Assert.Equal("0.0.0.0", sandboxOptions.ListenAddress); // reachable from the other containers
        Assert.Contains(sandboxOptions.Port, sandbox.ContainerPorts);
        var keys = new Dictionary<string, string>
        {
            [PreceptOptions.Section] = sandboxOptions.PreceptApiKey,
            [WoodpeckerOptions.Section] = sandboxOptions.WoodpeckerApiKey,
            [LanceOptions.Section] = sandboxOptions.LanceApiKey,
        };
        var paths = new Dictionary<string, string>
        {
            [PreceptOptions.Section] = "/",
            [WoodpeckerOptions.Section] = "/rest/",
            [LanceOptions.Section] = "/",
        };

        foreach (var relay in stack.Relays)
        {
            var configuration = Configuration(stack.EffectiveEnvironment(relay));
            Assert.False(configuration.GetValue<bool?>(EmbeddedSandbox.EnabledKey) ?? true, $"{relay.Name} must not run the in-process sandbox");
            Assert.Equal("service_healthy", relay.DependsOn.GetValueOrDefault(sandbox.Name));
            foreach (var (section, key) in keys)
            {
                if (!configuration.GetValue(section + ":Enabled", true))
                    continue;
                var baseUrl = new Uri(configuration[section + ":BaseUrl"]!);
                Assert.Equal((sandbox.Name, sandboxOptions.Port, paths[section]), (baseUrl.Host, baseUrl.Port, baseUrl.AbsolutePath));
                Assert.Equal(key, configuration[section + ":ApiKey"]);
            }
        }
    }

    [Fact]
    public void EachRelaysPublicBaseUrlIsItsOwnWebhookListenerOnTheComposeNetwork()
    {
        var image = stack.Dockerfile.Environment(stack.Dockerfile.FinalStage.Name);
        // The platform's own convention decides the main listener: appsettings.json must not override it.
        Assert.False(image.ContainsKey("Urls"), "the image sets no Urls: ASPNETCORE_HTTP_PORTS is the container convention");
        var mainPort = int.Parse(image["ASPNETCORE_HTTP_PORTS"]);
        foreach (var relay in stack.Relays)
        {
            var environment = stack.EffectiveEnvironment(relay);
            var relayOptions = Configuration(environment).GetSection(RelayOptions.Section).Get<RelayOptions>()!;
            var webhookPort = Assert.Single(relayOptions.WebhookPorts);
            Assert.NotEqual(mainPort, webhookPort);
            var publicBase = new Uri(environment["Relay__PublicBaseUrl"]);
            // The sandbox container posts Precept's callbacks there: the webhook listener, not the main one.
            Assert.Equal((relay.Name, webhookPort), (publicBase.Host, publicBase.Port));
            Assert.Contains(mainPort, relay.ContainerPorts);
            Assert.Equal(mainPort, new Uri(relay.HealthCheckTest![^1]).Port);
        }
    }

    [Fact]
    public void EveryRelayPassesTheRelaysWholeSettingsCheck()
    {
        // The relay's own --check-settings: every check, also those that read several sections (protection on RabbitMQ).
        foreach (var relay in stack.Relays)
        {
            var (exitCode, output) = RelaySettingsCheck.Run(stack.EffectiveEnvironment(relay));
            Assert.True(exitCode == 0, $"{relay.Name}: exit {exitCode}\n{output}");
        }
    }

    [Fact]
    public void ExactlyOneReplicaMigratesAndTheOthersStartAfterIt()
    {
        var migrating = stack.Relays.Where(r => Configuration(stack.EffectiveEnvironment(r))
            .GetSection(LedgerOptions.Section).Get<LedgerOptions>()?.MigrateOnStartup ?? new LedgerOptions().MigrateOnStartup).ToList();

        Assert.True(migrating.Count == 1, $"replicas with Ledger:MigrateOnStartup: {string.Join(", ", migrating.Select(r => r.Name))}");
        var migrator = migrating[0];
        foreach (var other in stack.Relays.Except([migrator]))
            Assert.Equal("service_healthy", other.DependsOn.GetValueOrDefault(migrator.Name));
    }

    [Fact]
    public void TheStopGracePeriodOutlastsTheRelaysShutdownTimeout()
    {
        foreach (var relay in stack.Relays)
        {
            var timeout = Configuration(stack.EffectiveEnvironment(relay)).GetSection(RelayOptions.Section).Get<RelayOptions>()?.ShutdownTimeout
                ?? new RelayOptions().ShutdownTimeout;
            // Docker's default is 10 s, then SIGKILL.
            var grace = relay.StopGracePeriod is { } text ? ComposeDuration(text) : TimeSpan.FromSeconds(10);
            Assert.True(grace > timeout, $"{relay.Name}: stop_grace_period {grace} must be longer than Relay:ShutdownTimeout {timeout}");
        }
    }

    [Fact]
    public void TheDockerfileIsMultiStageNonRootAndHealthChecked()
    {
        var dockerfile = stack.Dockerfile;
        var relay = dockerfile.FinalStage.Name;
        Assert.True(dockerfile.Stages.Count >= 2, "multi-stage: an SDK build stage and a runtime stage");
        Assert.Contains(dockerfile.Stages, s => s.From.StartsWith("mcr.microsoft.com/dotnet/sdk:"));
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", dockerfile.Lineage(relay).Last().From);
        Assert.Contains(dockerfile.Lineage(relay).SelectMany(s => s.Instructions), i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from="));

        foreach (var stage in new[] { relay, stack.Sandbox.BuildTarget! })
        {
            var user = dockerfile.Effective(stage, "USER");
            Assert.False(user is null or "root" or "0" || user.StartsWith("root:") || user.StartsWith("0:"), $"{stage} runs as '{user ?? "root"}'");
            var health = dockerfile.Effective(stage, "HEALTHCHECK");
            Assert.NotNull(health);
            Assert.Contains(HealthProbe.Flag, health);
            Assert.DoesNotContain("curl", health);
            Assert.NotNull(dockerfile.Effective(stage, "ENTRYPOINT"));
        }
        Assert.Contains("/health/", dockerfile.Effective(relay, "HEALTHCHECK"));
    }

    [Fact]
    public void ComposeBuildsStagesTheDockerfileHasWithoutTheHostsBuildOutput()
    {
        foreach (var service in stack.Services.Values.Where(s => s.Build is not null))
            Assert.Contains(service.BuildTarget ?? stack.Dockerfile.FinalStage.Name, stack.Dockerfile.Stages.Select(s => s.Name));
        // A host's obj/project.assets.json copied in would replace the image's own restore.
        Assert.Contains("**/bin/", stack.DockerIgnore);
        Assert.Contains("**/obj/", stack.DockerIgnore);
    }

    static bool IsFrameworkSetting(string key) =>
        key.Equals("Urls", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("DOTNET_", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase);

    static string ConfigKey(string key) => key.Replace(":", "__");

    /// <summary>As the environment-variable configuration source reads them: <c>__</c> is the section separator.</summary>
    static IConfiguration Configuration(IReadOnlyDictionary<string, string> environment) =>
        new ConfigurationBuilder().AddInMemoryCollection(environment.Select(e => KeyValuePair.Create(e.Key.Replace("__", ":"), (string?)e.Value))).Build();

    static int ListeningPort(string urls) =>
        int.Parse(urls.Split(';')[0].Split(':').Last().TrimEnd('/'));

    /// <summary>Compose durations: 40s, 1m30s, 2m, 1h.</summary>
    static TimeSpan ComposeDuration(string text)
    {
        var total = TimeSpan.Zero;
        foreach (System.Text.RegularExpressions.Match part in System.Text.RegularExpressions.Regex.Matches(text, @"(\d+)(ms|h|m|s)"))
        {
            var value = int.Parse(part.Groups[1].Value);
            total += part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                _ => TimeSpan.FromMilliseconds(value),
            };
        }
        return total;
    }
}
