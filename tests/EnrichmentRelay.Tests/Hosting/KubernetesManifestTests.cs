using System.ComponentModel.DataAnnotations;
using EnrichmentRelay.Hosting;
using EnrichmentRelay.Ledger;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace EnrichmentRelay.Tests.Hosting;

/// <summary>
/// deploy/kubernetes checked as data against the relay, the way <see cref="ContainerStackTests"/> checks compose:
/// every setting names a real option and passes the relay's own validation, the probes and ports are the relay's,
/// a stop gets longer than Relay:ShutdownTimeout, replicas never migrate and the Job does, nothing runs as root.
/// </summary>
public sealed class KubernetesManifestTests(ITestOutputHelper output)
{
    static readonly string Folder = Path.Combine(ContainerStack.RepositoryRoot(), "deploy", "kubernetes");
    readonly IReadOnlyList<YamlMappingNode> resources = Directory.GetFiles(Folder, "*.yaml")
        .Where(f => Path.GetFileName(f) != "kustomization.yaml").SelectMany(Documents).ToList();
    readonly ContainerStack stack = ContainerStack.Load();

    // A placeholder per secret, well-formed for the setting that reads it (the check is about names and shapes).
    static string SecretPlaceholder(string setting) => setting == "Ledger__ConnectionString"
        ? "Host=postgres;Database=relay;Username=relay;Password=placeholder"
        : "placeholder-secret-0123456789-0123456789"; // as long as the longest key the relay asks for (32)

    YamlMappingNode Resource(string kind) => resources.Single(r => Text(r, "kind") == kind);

    IEnumerable<YamlMappingNode> Resources(string kind) => resources.Where(r => Text(r, "kind") == kind);

    YamlMappingNode PodSpec(string kind) => Map(Map(Map(Resource(kind), "spec"), "template"), "spec");

    YamlMappingNode Container(string kind) => (YamlMappingNode)((YamlSequenceNode)PodSpec(kind)["containers"]).Children.Single();

    [Fact]
    public void KustomizeAppliesEveryManifestAndThereIsEachPartAPlatformExpects()
    {
        var listed = ((YamlSequenceNode)Documents(Path.Combine(Folder, "kustomization.yaml")).Single()["resources"]).Children.Select(c => ((YamlScalarNode)c).Value!);
        Assert.Equal(Directory.GetFiles(Folder, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(), listed.Order());
        // Two Services: the private API listener and the public webhook listener.
        Assert.Equal(["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Service", "Service"], resources.Select(r => Text(r, "kind")!).Order());
    }

    [Fact]
    public void EverySettingIsARealOptionAndPassesTheRelaysStartUpValidation()
    {
        foreach (var kind in new[] { "Deployment", "Job" })
        {
            var environment = EffectiveEnvironment(kind);
            var problems = environment.Keys.Where(key => !IsFrameworkSetting(key))
                .Select(key => RelayOptionTypes.WhyNotAnOption(key.Replace("__", ":"))).OfType<string>().ToList();
            Assert.True(problems.Count == 0, $"{kind}: {string.Join("; ", problems)}");

            var configuration = Configuration(environment);
            // --migrate reads (and validates) the ledger's settings only; the relay all of them.
            foreach (var (section, type) in RelayOptionTypes.BySection.Where(s => kind == "Deployment" || s.Value == typeof(LedgerOptions)))
            {
                var options = Activator.CreateInstance(type)!;
                configuration.GetSection(section).Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
                var results = new List<ValidationResult>();
                Assert.True(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true),
                    $"{kind} {type.Name}: {string.Join("; ", results.Select(r => r.ErrorMessage))}");
            }
        }
    }

    [Fact]
    public void SecretsComeFromTheSecretNeverFromTheConfigMap()
    {
        var data = Map(Resource("ConfigMap"), "data").Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();
        Assert.DoesNotContain(data, key => IsSecretSetting(key));
        foreach (var kind in new[] { "Deployment", "Job" })
        {
            var fromSecret = SecretEnvironment(kind);
            Assert.All(fromSecret, s => Assert.Equal("enrichment-relay", s.Secret));
            var expected = kind == "Job" ? ["Ledger__ConnectionString"] : EffectiveEnvironment(kind).Keys.Where(IsSecretSetting).Order().ToArray();
            Assert.Equal(expected, fromSecret.Select(s => s.Setting).Order());
        }
    }

    [Fact]
    public void ReplicasNeverMigrateAndTheJobRunsTheMigrateCommandOnTheSameDatabase()
    {
        var relay = Configuration(EffectiveEnvironment("Deployment")).GetSection(LedgerOptions.Section).Get<LedgerOptions>()!;
        var job = Configuration(EffectiveEnvironment("Job")).GetSection(LedgerOptions.Section).Get<LedgerOptions>()!;

        Assert.False(relay.MigrateOnStartup);
        Assert.Equal(LedgerEngine.Postgres, relay.Engine);
        Assert.Equal((relay.Engine, relay.ConnectionString), (job.Engine, job.ConnectionString));
        Assert.Equal([MigrateCommand.Flag], ((YamlSequenceNode)Container("Job")["args"]).Children.Select(a => ((YamlScalarNode)a).Value));
        Assert.Equal("Never", Text(PodSpec("Job"), "restartPolicy"));
        Assert.Equal(Text(Container("Deployment"), "image"), Text(Container("Job"), "image"));
    }

    [Fact]
    public void ProbesPortsAndServiceAreTheRelays()
    {
        var container = Container("Deployment");
        var ports = ((YamlSequenceNode)container["ports"]).Children.Cast<YamlMappingNode>().ToDictionary(p => Text(p, "name")!, p => Text(p, "containerPort")!);
        // The image's two listeners: the platform's port (everything), and the webhook's own (Precept's callbacks only).
        var image = stack.Dockerfile.Environment(stack.Dockerfile.FinalStage.Name);
        var webhook = image["Relay__WebhookUrls"].Split(':').Last().TrimEnd('/');
        Assert.Equal(new Dictionary<string, string> { ["http"] = image["ASPNETCORE_HTTP_PORTS"], ["webhook"] = webhook }, ports);

        Assert.Equal(("/health/live", "http"), Probe(container, "livenessProbe"));
        Assert.Equal(("/health/live", "http"), Probe(container, "startupProbe"));
        Assert.Equal(("/health/ready", "http"), Probe(container, "readinessProbe"));

        // One Service per listener: each targets its own port, so only the webhook's can be routed from outside.
        var services = Resources("Service").Select(s => Map(s, "spec")).ToList();
        var targets = services.SelectMany(s => ((YamlSequenceNode)s["ports"]).Children.Cast<YamlMappingNode>().Select(p => Text(p, "targetPort"))).ToList();
        Assert.Equal(["http", "webhook"], targets.Order());
        var podLabels = Labels(Map(Map(Map(Resource("Deployment"), "spec"), "template"), "metadata"), "labels");
        var selector = Labels(Map(Map(Resource("Deployment"), "spec"), "selector"), "matchLabels");
        Assert.All(services, service => Assert.Subset(podLabels, Labels(service, "selector")));
        Assert.All(services, service => Assert.True(selector.SetEquals(Labels(service, "selector"))));
        Assert.Subset(podLabels, Labels(Map(Map(Resource("PodDisruptionBudget"), "spec"), "selector"), "matchLabels"));
    }

    [Fact]
    public void AStopOutlastsTheShutdownTimeoutAndADrainKeepsAReplica()
    {
        var timeout = Configuration(EffectiveEnvironment("Deployment")).GetSection(RelayOptions.Section).Get<RelayOptions>()?.ShutdownTimeout
                      ?? new RelayOptions().ShutdownTimeout;
        // Kubernetes' default is 30 s, then SIGKILL.
        var grace = TimeSpan.FromSeconds(int.Parse(Text(PodSpec("Deployment"), "terminationGracePeriodSeconds") ?? "30"));
        Assert.True(grace > timeout, $"terminationGracePeriodSeconds {grace} must be longer than Relay:ShutdownTimeout {timeout}");

        var replicas = int.Parse(Text(Map(Resource("Deployment"), "spec"), "replicas")!);
        var minAvailable = int.Parse(Text(Map(Resource("PodDisruptionBudget"), "spec"), "minAvailable")!);
        Assert.InRange(minAvailable, 1, replicas - 1);
        output.WriteLine($"[figure] deploy/kubernetes: {resources.Count} manifests checked against the relay's options " +
                         $"(grace period {grace.TotalSeconds:0} s, longer than the {timeout.TotalSeconds:0} s shutdown timeout; {replicas} replicas, PDB minAvailable {minAvailable})");
    }

    [Fact]
    public void NothingRunsAsRootAndEveryContainerHasResourcesAndTheReleasesImage()
    {
        foreach (var kind in new[] { "Deployment", "Job" })
        {
            var pod = Map(PodSpec(kind), "securityContext");
            Assert.Equal("true", Text(pod, "runAsNonRoot"));
            Assert.NotEqual("0", Text(pod, "runAsUser"));
            var container = Container(kind);
            var security = Map(container, "securityContext");
            Assert.Equal("false", Text(security, "allowPrivilegeEscalation"));
            Assert.Equal("true", Text(security, "readOnlyRootFilesystem"));
            Assert.Equal(["ALL"], ((YamlSequenceNode)Map(security, "capabilities")["drop"]).Children.Select(c => ((YamlScalarNode)c).Value));
            var resources = Map(container, "resources");
            Assert.NotNull(Text(Map(resources, "requests"), "cpu"));
            Assert.NotNull(Text(Map(resources, "requests"), "memory"));
            Assert.NotNull(Text(Map(resources, "limits"), "memory"));
            // The one version of the release (Directory.Build.props), as the image built by compose is tagged.
            Assert.Equal(("enrichment-relay", ReleaseVersion.Read()), ComposeService.SplitImage(Text(container, "image")!));
        }
    }

    IReadOnlyDictionary<string, string> EffectiveEnvironment(string kind)
    {
        // The image's ENV, then the ConfigMap (envFrom), then the container's own env (secrets as placeholders).
        var environment = new Dictionary<string, string>(stack.Dockerfile.Environment(stack.Dockerfile.FinalStage.Name), StringComparer.OrdinalIgnoreCase);
        var container = Container(kind);
        foreach (var source in ((YamlSequenceNode)container["envFrom"]).Children.Cast<YamlMappingNode>())
        {
            Assert.Equal("enrichment-relay", Text(Map(source, "configMapRef"), "name"));
            foreach (var (key, value) in Map(Resource("ConfigMap"), "data").Children)
                environment[((YamlScalarNode)key).Value!] = ((YamlScalarNode)value).Value!;
        }
        foreach (var variable in ((YamlSequenceNode?)ContainerStack.Child(container, "env"))?.Children.Cast<YamlMappingNode>() ?? [])
            environment[Text(variable, "name")!] = Text(variable, "value") ?? SecretPlaceholder(Text(variable, "name")!);
        return environment;
    }

    IReadOnlyList<(string Setting, string Secret, string Key)> SecretEnvironment(string kind) =>
        (((YamlSequenceNode?)ContainerStack.Child(Container(kind), "env"))?.Children.Cast<YamlMappingNode>() ?? [])
        .Where(variable => ContainerStack.Child(variable, "valueFrom") is not null)
        .Select(variable => (Setting: Text(variable, "name")!, Reference: Map(Map(variable, "valueFrom"), "secretKeyRef")))
        .Select(v => (v.Setting, Text(v.Reference, "name")!, Text(v.Reference, "key")!))
        .ToList();

    static bool IsSecretSetting(string key) =>
        key.EndsWith("ApiKey", StringComparison.OrdinalIgnoreCase) || key.EndsWith("Password", StringComparison.OrdinalIgnoreCase)
        || key.EndsWith("Username", StringComparison.OrdinalIgnoreCase) || key.EndsWith("ConnectionString", StringComparison.OrdinalIgnoreCase);

    static bool IsFrameworkSetting(string key) =>
        key.Equals("Urls", StringComparison.OrdinalIgnoreCase) || key.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || key.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase)
        || key.Equals(EmbeddedSandbox.EnabledKey.Replace(":", "__"), StringComparison.OrdinalIgnoreCase);

    static (string?, string?) Probe(YamlMappingNode container, string probe)
    {
        var http = Map(Map(container, probe), "httpGet");
        return (Text(http, "path"), Text(http, "port"));
    }

    static HashSet<KeyValuePair<string, string>> Labels(YamlMappingNode node, string key) =>
        Map(node, key).Children.Select(l => KeyValuePair.Create(((YamlScalarNode)l.Key).Value!, ((YamlScalarNode)l.Value).Value!)).ToHashSet();

    static IConfiguration Configuration(IReadOnlyDictionary<string, string> environment) =>
        new ConfigurationBuilder().AddInMemoryCollection(environment.Select(e => KeyValuePair.Create(e.Key.Replace("__", ":"), (string?)e.Value))).Build();

    static YamlMappingNode Map(YamlMappingNode node, string key) =>
        ContainerStack.Mapping(node, key) ?? throw new Xunit.Sdk.XunitException($"'{key}' is missing");

    static string? Text(YamlMappingNode node, string key) => ContainerStack.Scalar(ContainerStack.Child(node, key));

    static IEnumerable<YamlMappingNode> Documents(string path)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path))
            yaml.Load(reader);
        return yaml.Documents.Select(d => (YamlMappingNode)d.RootNode);
    }
}
