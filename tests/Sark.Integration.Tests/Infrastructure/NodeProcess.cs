using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>
/// A real node: <c>dotnet Sark.Host.dll --config FILE --bind 127.0.0.1:0</c> as a child process.
/// The file starts with <see cref="NodeConfigs.AnonymousCallers"/>, so a spec calls without credentials
/// unless its configuration turns anonymous callers off.
/// It knows its address from the <c>Now listening on:</c> line, captures its output (bounded),
/// and on dispose stops it with SIGTERM (a kill after a grace period) and checks that neither
/// it nor any process it started is left.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private const int CapturedLines = 2000;
    private static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan ChildrenGrace = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly string? _configPath;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _leftovers = [];
    private HttpClient? _http;
    private bool _stopped;

    private NodeProcess(Process process, string? configPath)
    {
        _process = process;
        _configPath = configPath;
    }

    /// <summary>What the node wrote to stdout (its console log), bounded.</summary>
    public OutputLog Stdout { get; } = new(CapturedLines);

    /// <summary>What the node wrote to stderr, bounded.</summary>
    public OutputLog Stderr { get; } = new(CapturedLines);

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>A client whose base address is the node's.</summary>
    public HttpClient Http => _http ?? throw new InvalidOperationException("The node is not listening.");

    public Uri BaseAddress => Http.BaseAddress!;

    /// <summary>Starts a node with <paramref name="hocon"/> (or the bundled default when null) and waits until it listens.</summary>
    public static async Task<NodeProcess> StartAsync(string? hocon, TimeSpan? timeout = null, int port = 0, IReadOnlyDictionary<string, string>? environment = null)
    {
        // The ops console on a free port too: nodes under test run side by side.
        var node = Launch(hocon, ["--bind", $"127.0.0.1:{port}", "--ops-bind", "127.0.0.1:0"], environment);
        try
        {
            var address = await node.WaitUntilListeningAsync(timeout ?? DefaultStartTimeout).ConfigureAwait(false);
            node._http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a node that is expected to stop by itself (bad configuration, bad arguments) and returns how it ended.</summary>
    public static async Task<NodeExit> RunToExitAsync(string? hocon, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var node = Launch(hocon, arguments);
        await using (node.ConfigureAwait(false))
        {
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                await node._process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"The node did not exit within {timeout.TotalSeconds:0}s.\n{node.Describe()}");
            }

            return new NodeExit(node._process.ExitCode, node.Stdout.Lines, node.Stderr.Lines);
        }
    }

    /// <summary>SIGTERM, then a kill if the node has not exited within <paramref name="grace"/>. Returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? grace = null)
    {
        if (_stopped)
            return _process.ExitCode;
        _stopped = true;

        var children = _process.HasExited ? [] : ProcessTools.ChildrenOf(_process.Id);
        if (!_process.HasExited)
        {
            await ProcessTools.TerminateAsync(_process.Id).ConfigureAwait(false);
            using var wait = new CancellationTokenSource(grace ?? StopGrace);
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _leftovers.Add($"the node (pid {_process.Id}) did not stop within {(grace ?? StopGrace).TotalSeconds:0}s of SIGTERM and was killed");
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        foreach (var pid in await ProcessTools.WaitUntilGoneAsync(children, ChildrenGrace).ConfigureAwait(false))
        {
            _leftovers.Add($"child process {pid} outlived the node");
            ProcessTools.KillQuietly(pid);
        }

        return _process.ExitCode;
    }

    /// <summary>Stops the node and fails if anything it started is still running.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _http?.Dispose();
            _process.Dispose();
            if (_configPath is not null)
            {
                File.Delete(_configPath);
                foreach (var suffix in new[] { ".audit.db", ".audit.db-wal", ".audit.db-shm" })
                    File.Delete(_configPath + suffix);
            }
        }

        if (_leftovers.Count > 0)
            Assert.Fail($"The node did not stop cleanly: {string.Join("; ", _leftovers)}.\n{Describe()}");
    }

    /// <summary>The node's captured output, for failure messages.</summary>
    /// <summary>The configuration file the node was started with (null for the embedded default).</summary>
    public string? ConfigPath => _configPath;

    /// <summary>The node's audit database (when it was started with a configuration).</summary>
    public string? AuditDatabase => _configPath is null ? null : _configPath + ".audit.db";

    public string Describe() => $"--- node stdout ---\n{Stdout}\n--- node stderr ---\n{Stderr}";

    private static NodeProcess Launch(string? hocon, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        string? configPath = null;
        if (hocon is not null)
        {
            configPath = Path.Combine(Path.GetTempPath(), $"sark-node-{Guid.NewGuid():N}.conf");
            // Each node audits into its own SQLite file, next to its config (a spec may set another path later in its HOCON).
            var audit = $"sark.audit.sqlite.path = {NodeConfigs.Quote(configPath + ".audit.db")}\n";
            File.WriteAllText(configPath, NodeConfigs.AnonymousCallers + audit + hocon);
        }

        var start = new ProcessStartInfo(NodePaths.Dotnet)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = NodePaths.HostDirectory,
        };
        start.ArgumentList.Add(NodePaths.HostDll);
        if (configPath is not null)
        {
            start.ArgumentList.Add("--config");
            start.ArgumentList.Add(configPath);
        }

        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);

        // Nothing from the test runner's environment may move the node's address.
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS" })
            start.Environment.Remove(name);
        if (Path.GetDirectoryName(NodePaths.Dotnet) is { Length: > 0 } dotnetDirectory)
            start.Environment["PATH"] = dotnetDirectory + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        var process = new Process { StartInfo = start };
        var node = new NodeProcess(process, configPath);
        process.OutputDataReceived += (_, e) => node.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                node.Stderr.Add(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    private void OnStdout(string? line)
    {
        if (line is null)
            return;
        Stdout.Add(line);
        if (ListeningLine().Match(line) is { Success: true } match)
            _listening.TrySetResult(new Uri(match.Groups["url"].Value));
    }

    private async Task<Uri> WaitUntilListeningAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(_listening.Task, exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (first == _listening.Task)
            return await _listening.Task.ConfigureAwait(false);
        if (first == exited)
            Assert.Fail($"The node exited with code {_process.ExitCode} before it listened.\n{Describe()}");
        Assert.Fail($"The node did not print its listening address within {timeout.TotalSeconds:0}s.\n{Describe()}");
        throw new InvalidOperationException("unreachable");
    }

    [GeneratedRegex(@"Now listening on: (?<url>https?://[^\s""]+)")]
    private static partial Regex ListeningLine();
}

/// <summary>How a node that stopped by itself ended.</summary>
public sealed record NodeExit(int ExitCode, IReadOnlyList<string> Stdout, IReadOnlyList<string> Stderr)
{
    public string StderrText => string.Join('\n', Stderr);

    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{string.Join('\n', Stdout)}\n--- stderr ---\n{StderrText}";
}
