using Sark.Actors.Configuration;
using Sark.Host.Startup;

namespace Sark.Host;

/// <summary>
/// The node's life: parse the command line, read the configuration, run until Ctrl+C or SIGTERM.
/// Exit codes: 0 after a clean stop, 1 when the node could not start, 2 for a configuration
/// error or bad arguments (one line on stderr, never a stack trace).
/// </summary>
internal static class Node
{
    public const int ExitOk = 0;
    public const int ExitStartFailed = 1;
    public const int ExitConfigError = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var parsed = CommandLine.Parse(args);
        switch (parsed.Action)
        {
            case CommandLineAction.Help:
                Console.Out.WriteLine(CommandLine.Usage);
                return ExitOk;
            case CommandLineAction.Unknown:
                Console.Error.WriteLine($"sark: {parsed.Error}");
                Console.Error.WriteLine(CommandLine.Usage);
                return ExitConfigError;
            case CommandLineAction.Invalid:
                return ConfigurationError(parsed.Error!);
        }

        WebApplication app;
        SarkOptions options;
        try
        {
            options = NodeConfiguration.Load(parsed.Value!);
            ApplyRuntimeSettings(options.Node);
            var auth = NodeConfiguration.LoadAuth(parsed.Value!, options);
            var commandLine = parsed.Value!;
            var frontDoor = NodeConfiguration.LoadFrontDoor(commandLine);
            app = NodeApp.Build(options, auth, () => NodeConfiguration.Load(commandLine).Policy, frontDoor, NodeConfiguration.LoadConfig(commandLine));
        }
        catch (SarkConfigException ex)
        {
            return ConfigurationError(ex.Message);
        }

        await using (app.ConfigureAwait(false))
        {
            LogRuntime(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(Node)));
            try
            {
                await app.RunAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (FindConfigError(ex) is { } configError)
            {
                return ConfigurationError(configError.Message);
            }
            catch (Sark.Actors.Ops.OpsBindException ex)
            {
                Console.Error.WriteLine($"sark: {ex.Message}");
                return ExitStartFailed;
            }
            catch (IOException ex)
            {
                Console.Error.WriteLine($"sark: cannot listen on {options.Node.HttpBind}: {ex.Message}");
                return ExitStartFailed;
            }
        }

        return Environment.ExitCode;
    }

    /// <summary>
    /// Sets what only the environment can carry (<see cref="RuntimeSettings"/>): re-executes the
    /// node once when something is missing; returns when nothing is, or when that failed.
    /// </summary>
    private static void ApplyRuntimeSettings(NodeOptions node)
    {
        var missing = RuntimeSettings.Missing(RuntimeSettings.Wanted(node.Gen0Budget, node.GcMode), Environment.GetEnvironmentVariable);
        if (missing.IsEmpty)
            return;
        var why = RuntimeSettings.Reexecute(missing);
        Console.Error.WriteLine($"sark: running without {string.Join(", ", missing.Select(m => $"{m.Key}={m.Value}"))} (sark.node.gc): {why}");
    }

    /// <summary>The collector the runtime actually runs, and the budget it was given (what <see cref="ApplyRuntimeSettings"/> achieved).</summary>
    private static void LogRuntime(ILogger logger) =>
        Log.Runtime(logger, System.Runtime.GCSettings.IsServerGC ? "server" : "workstation",
            Environment.GetEnvironmentVariable(RuntimeSettings.Gen0SizeVariable) is { Length: > 0 } budget && !System.Runtime.GCSettings.IsServerGC ? budget : "the runtime's own");

    private static int ConfigurationError(string message)
    {
        Console.Error.WriteLine($"sark: configuration error: {message}");
        return ExitConfigError;
    }

    private static SarkConfigException? FindConfigError(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SarkConfigException config)
                return config;
            if (ex is AggregateException { InnerExceptions.Count: 1 } aggregate)
                return FindConfigError(aggregate.InnerExceptions[0]);
        }

        return null;
    }
}
