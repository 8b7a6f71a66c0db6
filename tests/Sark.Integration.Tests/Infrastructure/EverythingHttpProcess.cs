using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// <c>@modelcontextprotocol/server-everything</c> in one of its HTTP modes (<c>sse</c>: GET /sse and
/// POST /message; <c>streamableHttp</c>: /mcp), as a real node process on 127.0.0.1 (tests/peers/loopback.mjs
/// binds its bare-port listen to loopback) on a given port. Stopped by PID.
/// </summary>
internal sealed class EverythingHttpProcess : IAsyncDisposable
{
    private readonly Process _process;

    private EverythingHttpProcess(Process process, string mode, int port)
    {
        _process = process;
        Mode = mode;
        Port = port;
    }

    public string Mode { get; }

    public int Port { get; }

    public int ProcessId => _process.Id;

    /// <summary>The url to configure: <c>/sse</c> in sse mode, <c>/mcp</c> in streamableHttp mode.</summary>
    public string Url => $"http://127.0.0.1:{Port}{(Mode == "sse" ? "/sse" : "/mcp")}";

    /// <summary>A port that was free on 127.0.0.1 a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the server and waits until it accepts connections.</summary>
    public static async Task<EverythingHttpProcess> StartAsync(string mode, int? port = null)
    {
        var chosen = port ?? FreePort();
        var start = new ProcessStartInfo("node")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add("--import");
        start.ArgumentList.Add(new Uri(Path.Combine(NodePaths.RepoRoot, "tests/peers/loopback.mjs")).AbsoluteUri);
        start.ArgumentList.Add(NodePaths.EverythingScript);
        start.ArgumentList.Add(mode);
        start.Environment["PORT"] = chosen.ToString(CultureInfo.InvariantCulture);
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new EverythingHttpProcess(process, mode, chosen);
        try
        {
            await server.WaitListeningAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>SIGKILL: the server dies mid-run, its streams cut.</summary>
    public async Task KillAsync()
    {
        ProcessTools.KillQuietly(_process.Id);
        var alive = await ProcessTools.WaitUntilGoneAsync([_process.Id], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (alive.Count > 0)
            throw new InvalidOperationException($"server-everything (pid {_process.Id}) is still alive after SIGKILL.");
    }

    public async ValueTask DisposeAsync()
    {
        if (ProcessTools.IsAlive(_process.Id))
            await KillAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private async Task WaitListeningAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"server-everything {Mode} exited with code {_process.ExitCode} before it listened on {Port}.");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }
}
