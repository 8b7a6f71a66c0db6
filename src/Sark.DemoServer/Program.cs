using System.Runtime.InteropServices;

namespace Sark.DemoServer;

/// <summary>Entry point: parses the flags, then serves MCP over stdin/stdout until stdin closes.</summary>
internal static class Program
{
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(1);

    public static async Task<int> Main(string[] args)
    {
        switch (ServerOptions.Parse(args, out var options, out var error))
        {
            case ParseOutcome.Help:
                Log.Raw(ServerOptions.Usage);
                return 0;
            case ParseOutcome.Invalid:
                Log.Raw($"sark-demo: {error}");
                Log.Raw(ServerOptions.Usage);
                return 2;
        }

        // Only protocol lines may reach stdout: keep the raw stream, send Console.Out to stderr.
        var stdout = Console.OpenStandardOutput();
        var stdin = Console.OpenStandardInput();
        Console.SetOut(Console.Error);

        Log.Raw($"sark-demo started pid={Environment.ProcessId}");

        using var sigterm = options.IgnoreSigterm
            ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, static context =>
            {
                context.Cancel = true;
                Log.Info("SIGTERM received and ignored (--ignore-sigterm)");
            })
            : null;

        if (options.StartupDelayMs > 0)
        {
            await Task.Delay(options.StartupDelayMs).ConfigureAwait(false);
        }

        var connection = new JsonRpcConnection(stdin, stdout, options.Garbage, options.Silent);
        var stats = new ServerStats();
        var tools = new DemoTools(new ToolRegistry(), connection, stats);
        var server = new McpServer(connection, tools.Registry, stats, options.PageSize);

        await connection.RunAsync(server, CancellationToken.None).ConfigureAwait(false);

        if (options.IgnoreStdinClose)
        {
            Log.Info("stdin closed; still running (--ignore-stdin-close)");
            await Task.Delay(Timeout.Infinite).ConfigureAwait(false);
        }

        // Let requests that are already running finish, but do not linger.
        if (!await connection.WaitForPendingWorkAsync(ShutdownGrace).ConfigureAwait(false))
        {
            Log.Info("stdin closed; abandoning requests still in flight");
        }

        Log.Info("stdin closed; exiting");
        return 0;
    }
}
