using System.Reflection;
using Sark.Actors.Configuration;
using Sark.Actors.Identity;

namespace Sark.Host.Startup;

/// <summary>Turns the command line into <see cref="SarkOptions"/>: the file or the embedded default, then <c>--bind</c>.</summary>
internal static class NodeConfiguration
{
    private const string EmbeddedConfig = "Sark.Host.sark.conf";

    /// <summary>Reads the configuration; every problem is a <see cref="SarkConfigException"/> that names the key.</summary>
    public static SarkOptions Load(CommandLine commandLine)
    {
        var options = commandLine.ConfigPath is { } path
            ? SarkConfigLoader.LoadFile(path)
            : SarkConfigLoader.Parse(ReadEmbedded());

        if (commandLine.Bind is { } bind)
        {
            KestrelBinding.Parse(bind, "--bind");
            options = options with { Node = options.Node with { HttpBind = bind } };
        }
        else
        {
            KestrelBinding.Parse(options.Node.HttpBind);
        }

        if (commandLine.OpsBind is { } opsBind)
        {
            SarkConfigLoader.ValidateBind(opsBind, "--ops-bind");
            options = options with { Node = options.Node with { Ops = (options.Node.Ops with { Bind = opsBind }).Validate() } };
        }

        if (commandLine.HasClusterOverrides)
            options = options with { Cluster = ClusterOverrides(commandLine, LoadConfig(commandLine)) };

        return options;
    }

    /// <summary>
    /// <c>sark.cluster</c> with <c>--cluster-port</c> and <c>--seed</c> over the file's, checked by
    /// the same rules (a bad value names the key it overrides).
    /// </summary>
    private static ClusterOptions ClusterOverrides(CommandLine commandLine, Akka.Configuration.Config config)
    {
        var text = new System.Text.StringBuilder();
        if (commandLine.ClusterPort is { } port)
        {
            if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
                throw new SarkConfigException($"--cluster-port: '{port}' is not a port (0-65535).");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"cluster.port = {number}\n");
        }

        if (commandLine.Seeds.Count > 0)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"cluster.seed-nodes = [{string.Join(", ", commandLine.Seeds.Select(s => System.Text.Json.JsonSerializer.Serialize(s)))}]\n");
        var sark = Akka.Configuration.ConfigurationFactory.ParseString(text.ToString()).WithFallback(config.GetConfig("sark"));
        return ClusterOptions.Read(sark);
    }

    /// <summary>
    /// Reads <c>sark.auth</c> from the same source as <see cref="Load"/> and applies the start rule:
    /// a node bound to anything but loopback needs a credential (<see cref="AuthOptions.ValidateForBind"/>).
    /// </summary>
    public static AuthOptions LoadAuth(CommandLine commandLine, SarkOptions options)
    {
        var auth = commandLine.ConfigPath is { } path
            ? AuthOptions.LoadFile(path)
            : AuthOptions.Parse(ReadEmbedded());
        auth.ValidateForBind(options.Node.HttpBind);
        return auth;
    }

    /// <summary>The configuration as read (file or embedded default, over the reference defaults), for the ops console's <c>config show</c>.</summary>
    public static Akka.Configuration.Config LoadConfig(CommandLine commandLine) =>
        SarkConfigLoader.ParseConfig(commandLine.ConfigPath is { } path ? ReadFile(path) : ReadEmbedded());

    /// <summary>Reads <c>sark.front-door</c> from the same source as <see cref="Load"/>.</summary>
    public static FrontDoor.FrontDoorOptions LoadFrontDoor(CommandLine commandLine) =>
        FrontDoor.FrontDoorOptions.Parse(commandLine.ConfigPath is { } path ? ReadFile(path) : ReadEmbedded());

    private static string ReadFile(string path) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new SarkConfigException($"The configuration file '{path}' does not exist.");

    private static string ReadEmbedded()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(EmbeddedConfig)
            ?? throw new InvalidOperationException($"The embedded resource {EmbeddedConfig} is missing from Sark.Host.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
