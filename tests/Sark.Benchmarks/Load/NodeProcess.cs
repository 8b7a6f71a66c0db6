using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sark.Benchmarks.Load;

/// <summary>
/// A Sark node (<c>dotnet Sark.Host.dll --config FILE --bind 127.0.0.1:0</c>) run as a child
/// process. Its address comes from the <c>Now listening on:</c> line; stdout and stderr are
/// drained for its whole life (the last lines are kept for errors). Stopped by its pid: SIGTERM,
/// then a kill of its whole tree.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private const int KeptLines = 60;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly string _configPath;
    private readonly Queue<string> _lastLines = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopped;

    private NodeProcess(Process process, string configPath)
    {
        _process = process;
        _configPath = configPath;
    }

    public int Pid => _process.Id;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Starts the node and waits (at most <paramref name="timeout"/>) for its listening address.</summary>
    public static Task<NodeProcess> StartAsync(string hostDll, string configText, TimeSpan timeout) =>
        StartAsync(hostDll, [], configText, timeout, environment: null);

    /// <summary>
    /// Starts <c>dotnet DLL [commandArgs] --config FILE --bind 127.0.0.1:0</c> and waits (at most
    /// <paramref name="timeout"/>) for its listening address.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(
        string dll, string[] commandArgs, string configText, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment)
    {
        var configPath = Path.Combine(Path.GetTempPath(), $"sark-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(configPath, configText).ConfigureAwait(false);
        var psi = new ProcessStartInfo(RepoLayout.OnPath("dotnet"))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var arg in (string[])[dll, .. commandArgs, "--config", configPath, "--bind", "127.0.0.1:0", "--ops-bind", "127.0.0.1:0"])
            psi.ArgumentList.Add(arg);
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            psi.Environment[name] = value;

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        if (!process.Start())
        {
            File.Delete(configPath);
            throw new InvalidOperationException("The node process did not start.");
        }

        var node = new NodeProcess(process, configPath);
        _ = Task.Run(() => node.DrainAsync(process.StandardOutput), CancellationToken.None);
        _ = Task.Run(() => node.DrainAsync(process.StandardError), CancellationToken.None);
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(node._listening.Task, exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (first != node._listening.Task)
        {
            var why = first == exited ? $"exited with code {process.ExitCode}" : $"did not listen within {timeout.TotalSeconds:0}s";
            var tail = node.Tail();
            await node.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"The node {why}. Its last output:\n{tail}");
        }

        node.BaseAddress = await node._listening.Task.ConfigureAwait(false);
        return node;
    }

    /// <summary>The last lines the node wrote.</summary>
    public string Tail()
    {
        lock (_lastLines)
            return string.Join('\n', _lastLines);
    }

    /// <summary>
    /// Polls <c>GET /api/v1/upstreams</c> until every one of <paramref name="names"/> is ready
    /// (bounded by <paramref name="timeout"/>); returns their process ids.
    /// </summary>
    public async Task<Dictionary<string, int?>> WaitUpstreamsReadyAsync(HttpClient http, IReadOnlyCollection<string> names, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var uri = new Uri(BaseAddress, "/api/v1/upstreams");
        string last = "(no answer)";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"The node exited with code {_process.ExitCode}. Its last output:\n{Tail()}");
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await http.GetAsync(uri, attempt.Token).ConfigureAwait(false);
                last = await response.Content.ReadAsStringAsync(attempt.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode && ReadyUpstreams(last) is { } ready && names.All(ready.ContainsKey))
                    return ready;
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (OperationCanceledException)
            {
                last = "no answer within 5 s";
            }

            await Task.Delay(200).ConfigureAwait(false);
        }

        // Say which endpoints still answer: it tells a facade that never got its actor references
        // (only the facade-backed endpoints hang) from a node that hangs altogether.
        var probes = new List<string>();
        foreach (var path in (string[])["/health/live", "/api/v1/servers"])
            probes.Add($"GET {path}: {await ProbeAsync(http, new Uri(BaseAddress, path)).ConfigureAwait(false)}");
        throw new TimeoutException(
            $"The node's upstreams {string.Join(", ", names)} were not all ready within {timeout.TotalSeconds:0}s. Last answer of GET /api/v1/upstreams: {last}. {string.Join("; ", probes)}.\nThe node's last output:\n{Tail()}");
    }

    private static async Task<string> ProbeAsync(HttpClient http, Uri uri)
    {
        try
        {
            using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var response = await http.GetAsync(uri, attempt.Token).ConfigureAwait(false);
            return $"{(int)response.StatusCode}";
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
        catch (OperationCanceledException)
        {
            return "no answer within 5 s";
        }
    }

    /// <summary>The ready upstreams of a <c>/api/v1/upstreams</c> body, with their process ids.</summary>
    private static Dictionary<string, int?>? ReadyUpstreams(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var list = document.RootElement;
            if (list.ValueKind == JsonValueKind.Object && list.TryGetProperty("upstreams", out var inner))
                list = inner;
            if (list.ValueKind != JsonValueKind.Array)
                return null;
            var ready = new Dictionary<string, int?>(StringComparer.Ordinal);
            foreach (var upstream in list.EnumerateArray())
            {
                if (upstream.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
                    && upstream.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String
                    && string.Equals(state.GetString(), "ready", StringComparison.OrdinalIgnoreCase))
                {
                    int? pid = upstream.TryGetProperty("process_id", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : null;
                    ready[name.GetString()!] = pid;
                }
            }

            return ready;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task DrainAsync(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                lock (_lastLines)
                {
                    _lastLines.Enqueue(line);
                    while (_lastLines.Count > KeptLines)
                        _lastLines.Dequeue();
                }

                if (!_listening.Task.IsCompleted && ListeningLine().Match(line) is { Success: true } match)
                    _listening.TrySetResult(new Uri(match.Groups["url"].Value));
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The node is gone.
        }
    }

    /// <summary>SIGTERM, up to 20 s for a clean stop (calls drain, upstreams are reaped), then SIGKILL of the tree.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        try
        {
            if (!_process.HasExited)
            {
                if (!OperatingSystem.IsWindows())
                    _ = Kill(_process.Id, 15);
                var exited = _process.WaitForExitAsync();
                if (await Task.WhenAny(exited, Task.Delay(StopGrace)).ConfigureAwait(false) != exited)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Gone already, or could not be waited for; nothing more to do.
        }
        finally
        {
            _process.Dispose();
            try
            {
                File.Delete(_configPath);
            }
            catch (IOException)
            {
            }
        }
    }

    [GeneratedRegex(@"Now listening on: (?<url>https?://\S+)")]
    private static partial Regex ListeningLine();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
