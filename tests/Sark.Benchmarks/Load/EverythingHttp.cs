using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sark.Benchmarks.Load;

/// <summary>
/// server-everything in streamableHttp mode as a node process on 127.0.0.1 (preloaded with
/// <c>tests/peers/loopback.mjs</c>, as the integration specs run it), on a port that was free a
/// moment ago. Its output is drained; it is stopped by its pid.
/// </summary>
internal sealed class EverythingHttp : IAsyncDisposable
{
    private readonly Process _process;

    private EverythingHttp(Process process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/mcp";
    }

    public int Pid => _process.Id;

    /// <summary>The streamable HTTP endpoint.</summary>
    public string Url { get; }

    public static async Task<EverythingHttp> StartAsync(RepoLayout layout)
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var psi = new ProcessStartInfo(RepoLayout.OnPath("node"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = layout.Root,
        };
        psi.ArgumentList.Add("--import");
        psi.ArgumentList.Add(new Uri(Path.Combine(layout.Root, "tests", "peers", "loopback.mjs")).AbsoluteUri);
        psi.ArgumentList.Add(layout.EverythingScript);
        psi.ArgumentList.Add("streamableHttp");
        psi.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start node.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new EverythingHttp(process, port);
        try
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited)
                    throw new InvalidOperationException($"server-everything streamableHttp exited with code {process.ExitCode} before it listened on {port}.");
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                    return server;
                }
                catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(100).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Kills the process (by pid) and waits for it, at most 10 s.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Gone already, or could not be waited for.
        }
        finally
        {
            _process.Dispose();
        }
    }
}
