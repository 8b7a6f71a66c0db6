using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using Sark.Actors.Configuration;
using Sark.Actors.Protocol;

namespace Sark.Actors.Upstreams.Stdio;

/// <summary>
/// One MCP server subprocess and its three pumps (stdin writer, stdout reader, stderr logger).
/// It owns no protocol state: lines read are parsed and told to the owning actor, and what
/// the actor wants written goes through a bounded queue, so the actor never blocks on a pipe.
/// </summary>
internal sealed partial class StdioProcess
{
    private readonly Process _process;
    private readonly Channel<byte[]> _outbound;
    private readonly CancellationTokenSource _cts = new();
    private readonly UpstreamOptions _options;
    private int _stopping;

    private StdioProcess(Process process, UpstreamOptions options)
    {
        _process = process;
        _options = options;
        _outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(options.MaxInFlight)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
            // The write loop, waiting for a line, goes on in the actor's TryWrite instead of in a
            // thread-pool hop of its own: stdin is a pipe stream whose writes are non-blocking
            // (a full pipe makes the write pending, never the thread wait), so the actor only
            // hands the line to the kernel. One hop less per call.
            AllowSynchronousContinuations = true,
        });
    }

    public int ProcessId { get; private set; }

    /// <summary>The upstream this process serves.</summary>
    public string Upstream => _options.Name;

    /// <summary>Whose process it is (the actor system that started it), so that a node stops only its own.</summary>
    public object? Owner { get; private init; }

    /// <summary>Completes when the process has exited and been reaped.</summary>
    public Task Exited { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Starts the process: argv directly (no shell) and an environment built from the
    /// allowlist plus the configured variables. Throws <see cref="StdioStartException"/>
    /// with a message that names the command when it cannot be started.
    /// </summary>
    public static StdioProcess Start(UpstreamOptions options, object? owner = null)
    {
        var psi = BuildStartInfo(options);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        try
        {
            if (!process.Start())
                throw new StdioStartException($"Could not start '{options.Command[0]}': the process did not start.");
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new StdioStartException(
                $"Could not start '{options.Command[0]}' for upstream '{options.Name}': {ex.Message}. Check sark.upstreams.{options.Name}.command.");
        }

        var stdio = new StdioProcess(process, options) { ProcessId = process.Id, Owner = owner };
        stdio.Exited = process.WaitForExitAsync();
        ChildProcesses.Track(stdio);
        return stdio;
    }

    internal static ProcessStartInfo BuildStartInfo(UpstreamOptions options)
    {
        var psi = new ProcessStartInfo(options.Command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            WorkingDirectory = options.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in options.Command.AsSpan()[1..])
            psi.ArgumentList.Add(arg);

        // Only the allowlist is inherited; the parent's secrets stay in the parent.
        psi.Environment.Clear();
        foreach (var name in options.EnvAllowlist)
        {
            var value = Environment.GetEnvironmentVariable(name);
            if (value is not null)
                psi.Environment[name] = value;
        }

        foreach (var (name, value) in options.Env)
            psi.Environment[name] = value;
        return psi;
    }

    /// <summary>
    /// Starts the pumps. Parsed stdout messages go to <paramref name="deliver"/> (on the reader's
    /// thread; to <paramref name="owner"/> when null), then <see cref="StdoutClosed"/> to
    /// <paramref name="owner"/> when stdout ends; stderr goes to <paramref name="log"/>.
    /// </summary>
    public void StartPumps(IActorRef owner, ILoggingAdapter log, Action<JsonRpcInbound>? deliver = null)
    {
        var token = _cts.Token;
        deliver ??= message => owner.Tell(message);
        _ = Task.Run(() => WriteLoopAsync(token), CancellationToken.None);
        _ = Task.Run(() => ReadLoopAsync(owner, deliver, token), CancellationToken.None);
        _ = Task.Run(() => StderrLoopAsync(log, token), CancellationToken.None);
    }

    /// <summary>Queues one line for stdin. False when the queue is full (the server is not reading).</summary>
    public bool TryWrite(byte[] line) => _outbound.Writer.TryWrite(line);

    private async Task WriteLoopAsync(CancellationToken token)
    {
        var stdin = _process.StandardInput.BaseStream;
        var reader = _outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var line))
                    await stdin.WriteAsync(line, token).ConfigureAwait(false);
                await stdin.FlushAsync(token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The process went away or we are stopping; the stdout reader reports the fault.
        }
    }

    private async Task ReadLoopAsync(IActorRef owner, Action<JsonRpcInbound> deliver, CancellationToken token)
    {
        string reason;
        try
        {
            await NdjsonReader.ReadAsync(
                _process.StandardOutput.BaseStream,
                _options.MaxMessageBytes,
                deliver,
                token).ConfigureAwait(false);
            reason = "stdout closed";
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            reason = $"stdout failed: {ex.Message}";
        }

        // Give the exit code a moment to be known, so the fault says why.
        await Task.WhenAny(Exited, Task.Delay(200, CancellationToken.None)).ConfigureAwait(false);
        int? exitCode = _process.HasExited ? _process.ExitCode : null;
        owner.Tell(new StdoutClosed(reason, exitCode));
    }

    /// <summary>
    /// Logs stderr line by line. A line is cut at <c>max-line-length</c> while it is read (a
    /// line without an end is never buffered whole), and a token bucket bounds the rate; the
    /// number of lines dropped is logged with the next line that passes, or when stderr ends.
    /// </summary>
    private async Task StderrLoopAsync(ILoggingAdapter log, CancellationToken token)
    {
        var limiter = new LineRateLimiter(_options.Stderr.LinesPerSecond, _options.Stderr.Burst);
        var max = _options.Stderr.MaxLineLength;
        var buffer = new char[4096];
        var line = new System.Text.StringBuilder(Math.Min(max, 256));
        var cut = false;
        long suppressed = 0;

        void Emit()
        {
            if (!limiter.TryTake(Stopwatch.GetTimestamp(), out var dropped))
            {
                suppressed++;
                return;
            }

            if (dropped > 0)
                log.Warning("Upstream {Upstream} (pid {Pid}): {Suppressed} stderr lines suppressed by the rate limit", _options.Name, ProcessId, dropped);
            suppressed = 0;
            log.Info("Upstream {Upstream} (pid {Pid}) stderr: {Line}", _options.Name, ProcessId, cut ? line.Append('…').ToString() : line.ToString());
        }

        try
        {
            int read;
            while ((read = await _process.StandardError.ReadAsync(buffer, token).ConfigureAwait(false)) > 0)
            {
                foreach (var c in buffer.AsSpan(0, read))
                {
                    if (c == '\n')
                    {
                        Emit();
                        line.Clear();
                        cut = false;
                    }
                    else if (line.Length < max)
                    {
                        if (c != '\r')
                            line.Append(c);
                    }
                    else
                    {
                        cut = true;
                    }
                }
            }

            if (line.Length > 0)
                Emit();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Stopping or gone.
        }

        if (suppressed > 0)
            log.Warning("Upstream {Upstream} (pid {Pid}): {Suppressed} stderr lines suppressed by the rate limit before stderr closed", _options.Name, ProcessId, suppressed);
    }

    /// <summary>
    /// Stops the process the way MCP asks: close stdin, wait <c>stop-grace</c>, SIGTERM, wait
    /// <c>kill-grace</c>, SIGKILL. Safe to call more than once; never throws.
    /// </summary>
    public Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 1)
            return Exited;
        var stopping = StopCoreAsync();
        ChildProcesses.Stopping(this, stopping);
        return stopping;
    }

    private async Task StopCoreAsync()
    {
        try
        {
            _outbound.Writer.TryComplete();
            try
            {
                _process.StandardInput.Close();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // Already closed.
            }

            if (!await ExitedWithin(_options.StopGrace).ConfigureAwait(false))
            {
                SendSigterm(ProcessId);
                if (!await ExitedWithin(_options.KillGrace).ConfigureAwait(false))
                    KillNow();
            }

            await Exited.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception)
        {
            // The process is already gone.
        }
        finally
        {
            _cts.Cancel();
            _process.Dispose();
            ChildProcesses.Untrack(this);
        }
    }

    /// <summary>SIGKILL, at once. Used when the node itself is exiting.</summary>
    public void KillNow()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Gone already.
        }
    }

    private async Task<bool> ExitedWithin(TimeSpan grace)
    {
        if (Exited.IsCompleted)
            return true;
        var first = await Task.WhenAny(Exited, Task.Delay(grace)).ConfigureAwait(false);
        return first == Exited;
    }

    private static void SendSigterm(int pid)
    {
        if (OperatingSystem.IsWindows())
            return;
        _ = Kill(pid, 15);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Told to the owner when stdout ends: the process is gone or going.</summary>
    public sealed record StdoutClosed(string Reason, int? ExitCode) : IDeadLetterSuppression;
}

/// <summary>The command of a stdio upstream could not be started.</summary>
public sealed class StdioStartException(string message) : Exception(message);

/// <summary>
/// Every child process this node started and has not yet reaped, so that shutdown can wait
/// for graceful stops and, as a last resort, kill what is left: no orphans.
/// </summary>
internal static class ChildProcesses
{
    private static readonly ConcurrentDictionary<StdioProcess, Task?> Live = new();
    private static int _hooked;

    public static int Count => Live.Count;

    public static void Track(StdioProcess process)
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Live[process] = null;
    }

    public static void Stopping(StdioProcess process, Task stopping)
    {
        if (Live.ContainsKey(process))
            Live[process] = stopping;
    }

    public static void Untrack(StdioProcess process) => Live.TryRemove(process, out _);

    /// <summary>The upstream and process id of every tracked process (for the RSS gauge).</summary>
    public static IEnumerable<(string Upstream, int Pid)> Running() => Live.Keys.Select(p => (p.Upstream, p.ProcessId));

    /// <summary>
    /// Stops every tracked process of <paramref name="owner"/> (every one when null) gracefully
    /// and waits for them, up to <paramref name="timeout"/>; kills what is left. Several actor
    /// systems in one process (a cluster's nodes in a test) each stop only their own.
    /// </summary>
    public static async Task StopAllAsync(TimeSpan timeout, object? owner = null)
    {
        var stops = Live.Keys.Where(p => owner is null || p.Owner == owner).Select(p => p.StopAsync()).ToArray();
        var all = Task.WhenAll(stops);
        if (await Task.WhenAny(all, Task.Delay(timeout)).ConfigureAwait(false) != all)
            KillAll(owner);
    }

    private static void KillAll(object? owner = null)
    {
        foreach (var process in Live.Keys)
        {
            if (owner is null || process.Owner == owner)
                process.KillNow();
        }
    }
}
