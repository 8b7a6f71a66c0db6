namespace Sark.Host.Startup;

/// <summary>The node's command line: <c>--config FILE</c>, <c>--bind HOST:PORT</c> and <c>--ops-bind HOST:PORT</c>, all optional.</summary>
/// <param name="ConfigPath">A HOCON file read on top of the reference defaults; the embedded <c>sark.conf</c> when null.</param>
/// <param name="Bind">Overrides <c>sark.node.http.bind</c> when present.</param>
internal sealed record CommandLine(string? ConfigPath, string? Bind)
{
    /// <summary>Overrides <c>sark.node.ops.bind</c> (the ops console) when present.</summary>
    public string? OpsBind { get; init; }

    /// <summary>Overrides <c>sark.cluster.port</c> when present (as given: the configuration checks it).</summary>
    public string? ClusterPort { get; init; }

    /// <summary>Replace <c>sark.cluster.seed-nodes</c> when any is given (<c>--seed</c> may repeat).</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];

    /// <summary>True when a cluster option is on the command line.</summary>
    public bool HasClusterOverrides => ClusterPort is not null || Seeds.Count > 0;

    public const string Usage = """
        usage: sark-node [--config FILE] [--bind HOST:PORT] [--ops-bind HOST:PORT]
                         [--cluster-port PORT] [--seed akka.tcp://sark@HOST:PORT ...]

          --config FILE      HOCON configuration, read on top of the built-in defaults
                             (without it, the bundled sark.conf runs the demo upstream)
          --bind HOST:PORT   address of the REST API, health and metrics
                             (overrides sark.node.http.bind; port 0 picks a free port)
          --ops-bind HOST:PORT  address of the ops console (overrides sark.node.ops.bind)
          --cluster-port PORT   Akka.Remote port of a clustered node (overrides sark.cluster.port)
          --seed ADDRESS     a seed node (repeat for several; replaces sark.cluster.seed-nodes)
          --help             show this text
        """;

    /// <summary>Parses the arguments; the outcome says whether to run, show help or fail.</summary>
    public static CommandLineOutcome Parse(IReadOnlyList<string> args)
    {
        string? config = null;
        string? bind = null;
        string? opsBind = null;
        string? clusterPort = null;
        var seeds = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var (name, inline) = Split(arg);
            switch (name)
            {
                case "--help" or "-h" or "-?":
                    return CommandLineOutcome.Help();
                case "--config" or "--bind" or "--ops-bind" or "--cluster-port" or "--seed":
                    string? value;
                    if (inline is not null)
                    {
                        value = inline;
                    }
                    else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        value = args[++i];
                    }
                    else
                    {
                        return CommandLineOutcome.Invalid($"{name} needs a value ({ValueName(name)}).");
                    }

                    if (string.IsNullOrWhiteSpace(value))
                        return CommandLineOutcome.Invalid($"{name} needs a non-empty value.");
                    if (name == "--config")
                        config = value;
                    else if (name == "--bind")
                        bind = value;
                    else if (name == "--cluster-port")
                        clusterPort = value;
                    else if (name == "--seed")
                        seeds.Add(value);
                    else
                        opsBind = value;
                    break;
                default:
                    return CommandLineOutcome.Unknown(arg);
            }
        }

        return CommandLineOutcome.Run(new CommandLine(config, bind) { OpsBind = opsBind, ClusterPort = clusterPort, Seeds = seeds });
    }

    private static string ValueName(string option) => option switch
    {
        "--config" => "FILE",
        "--cluster-port" => "PORT",
        "--seed" => "akka.tcp://sark@HOST:PORT",
        _ => "HOST:PORT",
    };

    private static (string Name, string? Value) Split(string arg)
    {
        if (!arg.StartsWith("--", StringComparison.Ordinal))
            return (arg, null);
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        return equals < 0 ? (arg, null) : (arg[..equals], arg[(equals + 1)..]);
    }
}

/// <summary>What to do after parsing the command line.</summary>
internal enum CommandLineAction
{
    Run,
    Help,

    /// <summary>A known option with a bad value: a configuration error.</summary>
    Invalid,

    /// <summary>An argument the node does not know: show the usage.</summary>
    Unknown,
}

/// <summary>The result of <see cref="CommandLine.Parse"/>.</summary>
internal sealed record CommandLineOutcome(CommandLineAction Action, CommandLine? Value, string? Error)
{
    public static CommandLineOutcome Run(CommandLine value) => new(CommandLineAction.Run, value, null);

    public static CommandLineOutcome Help() => new(CommandLineAction.Help, null, null);

    public static CommandLineOutcome Invalid(string error) => new(CommandLineAction.Invalid, null, error);

    public static CommandLineOutcome Unknown(string argument) => new(CommandLineAction.Unknown, null, $"unknown argument '{argument}'");
}
