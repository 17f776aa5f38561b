using System.Reflection;
using System.Text.RegularExpressions;
using EnrichmentRelay.Hosting;
using YamlDotNet.RepresentationModel;

namespace EnrichmentRelay.Tests.Hosting;

/// <summary>
/// compose.yaml and infra/Dockerfile as data, read the way Docker reads them (YAML merge keys resolved,
/// Dockerfile line continuations joined), so tests can check the stack without Docker.
/// </summary>
public sealed record ContainerStack(IReadOnlyDictionary<string, ComposeService> Services, IReadOnlySet<string> DeclaredVolumes,
    Dockerfile Dockerfile, IReadOnlyList<string> DockerIgnore)
{
    public static ContainerStack Load()
    {
        var root = RepositoryRoot();
        var yaml = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(Path.Combine(root, "compose.yaml"))))
            yaml.Load(reader);
        var document = (YamlMappingNode)WithMergesApplied(yaml.Documents.Single().RootNode);

        var services = Mapping(document, "services")!.Children.ToDictionary(
            s => Scalar(s.Key)!, s => ComposeService.Read(Scalar(s.Key)!, (YamlMappingNode)s.Value));
        var volumes = Mapping(document, "volumes")?.Children.Keys.Select(k => Scalar(k)!).ToHashSet() ?? [];
        var dockerIgnorePath = Path.Combine(root, ".dockerignore");
        var dockerIgnore = File.Exists(dockerIgnorePath)
            ? File.ReadAllLines(dockerIgnorePath).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList()
            : [];
        return new ContainerStack(services, volumes, Dockerfile.Read(Path.Combine(root, "infra", "Dockerfile")), dockerIgnore);
    }

    /// <summary>Services built from the relay image's default stage: the relay replicas.</summary>
    public IReadOnlyList<ComposeService> Relays => Services.Values.Where(s => s.Build is not null && s.BuildTarget == Dockerfile.FinalStage.Name).ToList();

    public ComposeService Sandbox => Services.Values.Single(s => s.Build is not null && s.BuildTarget == "sandbox");

    public ComposeService ServiceWithImage(string repository) => Services.Values.Single(s => s.ImageRepository == repository);

    /// <summary>What the container sees: the image stage's ENV, then the service's environment over it.</summary>
    public IReadOnlyDictionary<string, string> EffectiveEnvironment(ComposeService service)
    {
        var environment = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (service.Build is not null)
            foreach (var (key, value) in Dockerfile.Environment(service.BuildTarget ?? Dockerfile.FinalStage.Name))
                environment[key] = value;
        foreach (var (key, value) in service.Environment)
            environment[key] = value;
        return environment;
    }

    /// <summary>
    /// Resolves YAML merge keys (<c>&lt;&lt;: *anchor</c>) as Compose does: the merged mappings first, then the
    /// mapping's own keys, which win.
    /// </summary>
    static YamlNode WithMergesApplied(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var merged = new YamlMappingNode();
                var sources = mapping.Children.Where(c => Scalar(c.Key) == "<<").Select(c => c.Value)
                    .SelectMany(v => v is YamlSequenceNode list ? list.Children : [v]);
                foreach (var source in sources.Select(WithMergesApplied).Cast<YamlMappingNode>())
                    foreach (var (key, value) in source.Children)
                        merged.Children[key] = value;
                foreach (var (key, value) in mapping.Children.Where(c => Scalar(c.Key) != "<<"))
                    merged.Children[key] = WithMergesApplied(value);
                return merged;
            case YamlSequenceNode sequence:
                return new YamlSequenceNode(sequence.Children.Select(WithMergesApplied));
            default:
                return node;
        }
    }

    internal static YamlNode? Child(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    internal static YamlMappingNode? Mapping(YamlMappingNode node, string key) => Child(node, key) as YamlMappingNode;

    internal static string? Scalar(YamlNode? node) => (node as YamlScalarNode)?.Value;

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "EnrichmentRelay.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Cannot find EnrichmentRelay.sln above " + AppContext.BaseDirectory);
    }
}

public sealed record ComposeService(
    string Name,
    string? Image,
    YamlNode? Build,
    string? BuildTarget,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<string>? HealthCheckTest,
    IReadOnlyList<string> Volumes,
    IReadOnlyList<string> Ports,
    IReadOnlyDictionary<string, string> DependsOn,
    string? StopGracePeriod,
    IReadOnlyList<string>? Command)
{
    /// <summary>"rabbitmq" for "rabbitmq:3.13.7-management", "mcr.microsoft.com/dotnet/aspnet" for its images.</summary>
    public string? ImageRepository => Image is null ? null : SplitImage(Image).Repository;

    public string? ImageTag => Image is null ? null : SplitImage(Image).Tag;

    /// <summary>The container side of each <c>host:container</c> port mapping.</summary>
    public IEnumerable<int> ContainerPorts => Ports.Select(p => int.Parse(p.Split(':').Last().Split('/')[0]));

    public static (string Repository, string? Tag) SplitImage(string image)
    {
        var withoutDigest = image.Split('@')[0];
        var lastSlash = withoutDigest.LastIndexOf('/');
        var colon = withoutDigest.IndexOf(':', lastSlash + 1);
        return colon < 0 ? (withoutDigest, null) : (withoutDigest[..colon], withoutDigest[(colon + 1)..]);
    }

    internal static ComposeService Read(string name, YamlMappingNode node)
    {
        YamlNode? Child(string key) => ContainerStack.Child(node, key);
        var build = Child("build");
        var target = ContainerStack.Scalar(ContainerStack.Child(build as YamlMappingNode, "target"));

        // environment: a mapping, or a list of KEY=VALUE.
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (Child("environment"))
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                    environment[ContainerStack.Scalar(key)!] = ContainerStack.Scalar(value) ?? "";
                break;
            case YamlSequenceNode list:
                foreach (var item in list.Children.Select(ContainerStack.Scalar))
                {
                    var equals = item!.IndexOf('=');
                    environment[equals < 0 ? item : item[..equals]] = equals < 0 ? "" : item[(equals + 1)..];
                }
                break;
        }

        IReadOnlyList<string>? healthTest = null;
        if (Child("healthcheck") is YamlMappingNode health && ContainerStack.Scalar(ContainerStack.Child(health, "disable")) is not "true")
            healthTest = ContainerStack.Child(health, "test") switch
            {
                YamlSequenceNode list => list.Children.Select(c => ContainerStack.Scalar(c)!).ToList(),
                YamlScalarNode text => ["CMD-SHELL", text.Value!],
                _ => null,
            };

        var dependsOn = Child("depends_on") switch
        {
            YamlMappingNode map => map.Children.ToDictionary(d => ContainerStack.Scalar(d.Key)!,
                d => ContainerStack.Scalar(ContainerStack.Child(d.Value as YamlMappingNode, "condition")) ?? "service_started"),
            YamlSequenceNode list => list.Children.ToDictionary(d => ContainerStack.Scalar(d)!, _ => "service_started"),
            _ => new Dictionary<string, string>(),
        };

        return new ComposeService(name, ContainerStack.Scalar(Child("image")), build, target, environment, healthTest,
            Strings(Child("volumes")), Strings(Child("ports")), dependsOn, ContainerStack.Scalar(Child("stop_grace_period")),
            Child("command") switch
            {
                YamlSequenceNode list => Strings(list),
                YamlScalarNode text => text.Value!.Split(' ', StringSplitOptions.RemoveEmptyEntries),
                _ => null,
            });
    }

    static List<string> Strings(YamlNode? node) =>
        (node as YamlSequenceNode)?.Children.Select(c => ContainerStack.Scalar(c) ?? "").ToList() ?? [];
}

/// <summary>A Dockerfile's stages and their instructions, continuation lines joined and comments dropped.</summary>
public sealed record Dockerfile(IReadOnlyList<DockerStage> Stages)
{
    /// <summary>The stage <c>docker build</c> builds without <c>--target</c>.</summary>
    public DockerStage FinalStage => Stages[^1];

    public DockerStage Stage(string name) => Stages.Single(s => s.Name == name);

    /// <summary>A stage and the stages it is built FROM, nearest first.</summary>
    public IEnumerable<DockerStage> Lineage(string name)
    {
        for (var stage = Stages.SingleOrDefault(s => s.Name == name); stage is not null; stage = Stages.SingleOrDefault(s => s.Name == stage.From))
            yield return stage;
    }

    /// <summary>The last value each instruction kind takes in a stage's lineage (USER, HEALTHCHECK, ENTRYPOINT…).</summary>
    public string? Effective(string stage, string instruction) =>
        Lineage(stage).Select(s => s.Instructions.LastOrDefault(i => i.Keyword == instruction)?.Arguments).FirstOrDefault(a => a is not null);

    public IReadOnlyDictionary<string, string> Environment(string stage)
    {
        var environment = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var layer in Lineage(stage).Reverse())
            foreach (var env in layer.Instructions.Where(i => i.Keyword == "ENV"))
                foreach (Match pair in Regex.Matches(env.Arguments, "([A-Za-z_][A-Za-z0-9_]*)=(\"(?<q>[^\"]*)\"|(?<v>\\S*))"))
                    environment[pair.Groups[1].Value] = pair.Groups["q"].Success ? pair.Groups["q"].Value : pair.Groups["v"].Value;
        return environment;
    }

    internal static Dockerfile Read(string path)
    {
        var logical = new List<string>();
        var current = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || (line.Length == 0 && current.Length == 0))
                continue;
            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }
            logical.Add(current + line);
            current = "";
        }

        var stages = new List<DockerStage>();
        foreach (var line in logical.Where(l => l.Length > 0))
        {
            var space = line.IndexOf(' ');
            var keyword = (space < 0 ? line : line[..space]).ToUpperInvariant();
            var arguments = space < 0 ? "" : line[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--")).ToArray();
                var name = parts.Length >= 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : stages.Count.ToString();
                stages.Add(new DockerStage(name, parts[0], new List<DockerInstruction>()));
            }
            else
            {
                ((List<DockerInstruction>)stages[^1].Instructions).Add(new DockerInstruction(keyword, arguments));
            }
        }
        return new Dockerfile(stages);
    }
}

public sealed record DockerStage(string Name, string From, IReadOnlyList<DockerInstruction> Instructions);

public sealed record DockerInstruction(string Keyword, string Arguments);

/// <summary>The relay's options classes, found by their <c>Section</c> constant, as configuration sees them.</summary>
public static class RelayOptionTypes
{
    /// <summary>Section ("Providers:Precept") to options type, for every options class of the relay.</summary>
    public static IReadOnlyDictionary<string, Type> BySection { get; } = typeof(RelayOptions).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && t.Name.EndsWith("Options", StringComparison.Ordinal))
        .Select(t => (Type: t, Field: t.GetField("Section", BindingFlags.Public | BindingFlags.Static)))
        .Where(x => x.Field is { IsLiteral: true } && x.Field.FieldType == typeof(string))
        .ToDictionary(x => (string)x.Field!.GetRawConstantValue()!, x => x.Type, StringComparer.OrdinalIgnoreCase);

    public static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.SetMethod!.IsPublic);

    /// <summary>
    /// Null when <paramref name="key"/> (configuration form, "Bus:Host") names a property of an options class or
    /// an element of a list property ("Providers:Woodpecker:TargetCampaignIds:0"); else why not.
    /// </summary>
    public static string? WhyNotAnOption(string key)
    {
        var section = BySection.Keys.Where(s => key.StartsWith(s + ":", StringComparison.OrdinalIgnoreCase)).MaxBy(s => s.Length);
        if (section is null)
            return $"'{key}' is in no options section of the relay ({string.Join(", ", BySection.Keys.Order())})";
        var type = BySection[section];
        var path = key[(section.Length + 1)..].Split(':');
        var property = Settable(type).SingleOrDefault(p => p.Name.Equals(path[0], StringComparison.OrdinalIgnoreCase));
        if (property is null)
            return $"'{key}': {type.Name} has no property '{path[0]}' (it has {string.Join(", ", Settable(type).Select(p => p.Name))})";
        var isList = property.PropertyType != typeof(string) && property.PropertyType.IsAssignableTo(typeof(System.Collections.IEnumerable));
        if (path.Length == 1 || (path.Length == 2 && isList && int.TryParse(path[1], out _)))
            return null;
        return $"'{key}': {type.Name}.{property.Name} has no setting '{string.Join(':', path[1..])}'";
    }
}

/// <summary>The release's one version: <c>VersionPrefix</c> in Directory.Build.props (package, assemblies, image tags).</summary>
public static class ReleaseVersion
{
    public static string Read() =>
        System.Xml.Linq.XDocument.Load(Path.Combine(ContainerStack.RepositoryRoot(), "Directory.Build.props"))
            .Descendants("VersionPrefix").Single().Value.Trim();
}
