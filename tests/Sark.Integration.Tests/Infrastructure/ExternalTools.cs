using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// Debian tools the observability specs drive (<c>prometheus</c>, <c>promtool</c>, <c>chromium</c>),
/// installed by <c>scripts/test.sh</c>: finding them, running them to the end, starting them in
/// the background and stopping them by PID.
/// </summary>
internal static class ExternalTools
{
    /// <summary>The full path of <paramref name="name"/> on PATH; fails with how to install it.</summary>
    public static string Require(string name, string package)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(Path.PathSeparator).Append("/usr/bin"))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }

        throw new InvalidOperationException($"'{name}' is not installed: run 'bash scripts/test.sh' (it installs the Debian package '{package}').");
    }

    /// <summary>A free TCP port on 127.0.0.1 (bound and released; the tool binds it next).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a tool to its end within <paramref name="timeout"/>; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null)
    {
        using var process = new Process { StartInfo = Start(file, arguments, workingDirectory) };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout.TotalSeconds:0}s:\n{output}");
        }

        lock (output)
            return (process.ExitCode, output.ToString());
    }

    /// <summary>Starts a long-running tool; dispose the handle to stop it (by its PID) and reap it.</summary>
    public static Background StartBackground(string file, IEnumerable<string> arguments) => new(file, arguments);

    private static ProcessStartInfo Start(string file, IEnumerable<string> arguments, string? workingDirectory)
    {
        var start = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        return start;
    }

    /// <summary>A tool running in the background, with its output captured (bounded).</summary>
    public sealed class Background : IAsyncDisposable
    {
        private readonly Process _process;

        internal Background(string file, IEnumerable<string> arguments)
        {
            _process = new Process { StartInfo = Start(file, arguments, null) };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) Output.Add(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Output.Add(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int ProcessId => _process.Id;

        public bool HasExited => _process.HasExited;

        public OutputLog Output { get; } = new(2000);

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                await ProcessTools.TerminateAsync(_process.Id);
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }

            _process.Dispose();
        }
    }
}
