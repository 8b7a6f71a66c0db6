using System.Globalization;

namespace Sark.DemoServer;

/// <summary>What <see cref="ServerOptions.Parse"/> decided.</summary>
internal enum ParseOutcome
{
    Run,
    Help,
    Invalid,
}

/// <summary>The command-line flags of the demo server.</summary>
internal sealed record ServerOptions
{
    /// <summary>The usage text printed for <c>--help</c> and for bad flags.</summary>
    public const string Usage = """
        Usage: Sark.DemoServer [options]
        A stdio MCP server (newline-delimited JSON-RPC 2.0) for demos, tests and benchmarks.

        Options:
          --page-size N            tools/list page size (default 5)
          --garbage                write a non-JSON line to stdout before every message
          --silent                 read stdin but never answer anything
          --ignore-stdin-close     keep running after stdin reaches EOF
          --ignore-sigterm         ignore SIGTERM (the client must use SIGKILL)
          --startup-delay-ms N     wait N ms before reading stdin
          --help                   show this help
        """;

    /// <summary>Tools per <c>tools/list</c> page.</summary>
    public int PageSize { get; init; } = 5;

    /// <summary>Write a line of garbage before every message.</summary>
    public bool Garbage { get; init; }

    /// <summary>Never answer anything.</summary>
    public bool Silent { get; init; }

    /// <summary>Keep running after stdin EOF.</summary>
    public bool IgnoreStdinClose { get; init; }

    /// <summary>Cancel the default action of SIGTERM.</summary>
    public bool IgnoreSigterm { get; init; }

    /// <summary>Delay before reading stdin, in milliseconds.</summary>
    public int StartupDelayMs { get; init; }

    /// <summary>Parses the flags; on <see cref="ParseOutcome.Invalid"/> <paramref name="error"/> says why.</summary>
    public static ParseOutcome Parse(string[] args, out ServerOptions options, out string? error)
    {
        options = new ServerOptions();
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var (flag, inlineValue) = SplitFlag(args[i]);
            switch (flag)
            {
                case "--help" or "-h":
                    return ParseOutcome.Help;
                case "--garbage":
                    options = options with { Garbage = true };
                    break;
                case "--silent":
                    options = options with { Silent = true };
                    break;
                case "--ignore-stdin-close":
                    options = options with { IgnoreStdinClose = true };
                    break;
                case "--ignore-sigterm":
                    options = options with { IgnoreSigterm = true };
                    break;
                case "--page-size":
                    if (!TryReadInt(args, ref i, inlineValue, minimum: 1, out var pageSize, out error))
                    {
                        return ParseOutcome.Invalid;
                    }

                    options = options with { PageSize = pageSize };
                    break;
                case "--startup-delay-ms":
                    if (!TryReadInt(args, ref i, inlineValue, minimum: 0, out var delay, out error))
                    {
                        return ParseOutcome.Invalid;
                    }

                    options = options with { StartupDelayMs = delay };
                    break;
                default:
                    error = $"unknown option '{args[i]}'";
                    return ParseOutcome.Invalid;
            }

            if (inlineValue is not null && flag is not ("--page-size" or "--startup-delay-ms"))
            {
                error = $"option '{flag}' takes no value";
                return ParseOutcome.Invalid;
            }
        }

        return ParseOutcome.Run;
    }

    /// <summary>Splits <c>--flag=value</c> into its two parts.</summary>
    private static (string Flag, string? Value) SplitFlag(string arg)
    {
        var equals = arg.IndexOf('=', StringComparison.Ordinal);
        return arg.StartsWith("--", StringComparison.Ordinal) && equals > 0
            ? (arg[..equals], arg[(equals + 1)..])
            : (arg, null);
    }

    private static bool TryReadInt(
        string[] args, ref int index, string? inlineValue, int minimum, out int value, out string? error)
    {
        var flag = SplitFlag(args[index]).Flag;
        var text = inlineValue;
        if (text is null)
        {
            if (index + 1 >= args.Length)
            {
                value = 0;
                error = $"option '{flag}' needs a value";
                return false;
            }

            text = args[++index];
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) || value < minimum)
        {
            error = $"option '{flag}' needs an integer >= {minimum}, got '{text}'";
            return false;
        }

        error = null;
        return true;
    }
}
