using System.Diagnostics;

namespace Sark.Benchmarks.Load;

/// <summary>The outcome of one measured run of one path at one concurrency.</summary>
internal sealed record RunResult(
    string Path,
    int Concurrency,
    int Calls,
    long Errors,
    double Seconds,
    Percentiles Latency,
    double HarnessCpuUsPerCall,
    double AllocBytesPerCall,
    double? GatewayCpuUsPerCall,
    double? PeerCpuUsPerCall,
    string? FirstError)
{
    public double Throughput => Calls / Seconds;

    /// <summary>Bytes the server process allocated per call, when it says.</summary>
    public double? ServerAllocBytesPerCall { get; init; }

    /// <summary>Collections (every generation) of the server process per 1,000 calls, when it says.</summary>
    public double? ServerGcsPerKCalls { get; init; }

    /// <summary>Microseconds the server process was paused in collections per call, when it says.</summary>
    public double? ServerGcPauseUsPerCall { get; init; }
}

/// <summary>
/// A closed loop: C workers, each calls, waits for the reply, records the latency and calls
/// again, until the time is up or the recorder is full. Warm-up runs the same loop unrecorded.
/// Every call has a hard bound: a token cancels whatever is still running 30 s past the end.
/// </summary>
internal static class ClosedLoop
{
    private static readonly TimeSpan HardMargin = TimeSpan.FromSeconds(30);

    public static async Task<RunResult> RunAsync(IEchoTarget target, int concurrency, TimeSpan warmup, TimeSpan duration, LatencyRecorder recorder)
    {
        target.Prepare(concurrency);
        if (warmup > TimeSpan.Zero)
        {
            recorder.Reset();
            await PhaseAsync(target, concurrency, warmup, recorder).ConfigureAwait(false);
        }

        recorder.Reset();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        using var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var allocBefore = GC.GetTotalAllocatedBytes(precise: true);
        var gatewayBefore = target.GatewayPid is { } g ? ProcStat.CpuSeconds(g) : null;
        var peerBefore = target.PeerPid is { } p ? ProcStat.CpuSeconds(p) : null;
        var gcBefore = target.ServerGc is { } gc ? await gc.SampleAsync().ConfigureAwait(false) : null;
        var start = Stopwatch.GetTimestamp();

        var (errors, firstError) = await PhaseAsync(target, concurrency, duration, recorder).ConfigureAwait(false);

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var allocAfter = GC.GetTotalAllocatedBytes(precise: true);
        self.Refresh();
        var cpuAfter = self.TotalProcessorTime;
        var gatewayAfter = target.GatewayPid is { } g2 ? ProcStat.CpuSeconds(g2) : null;
        var peerAfter = target.PeerPid is { } p2 ? ProcStat.CpuSeconds(p2) : null;
        var gcAfter = target.ServerGc is { } gc2 && gcBefore is not null ? await gc2.SampleAsync().ConfigureAwait(false) : null;

        var calls = recorder.Count;
        var perCall = Math.Max(calls, 1);
        double? PerCallUs(double? before, double? after) =>
            before is { } b && after is { } a ? (a - b) * 1e6 / perCall : null;

        return new RunResult(
            target.Name,
            concurrency,
            calls,
            errors,
            seconds,
            recorder.Summarize(),
            (cpuAfter - cpuBefore).TotalMicroseconds / perCall,
            (double)(allocAfter - allocBefore) / perCall,
            PerCallUs(gatewayBefore, gatewayAfter),
            PerCallUs(peerBefore, peerAfter),
            firstError)
        {
            ServerAllocBytesPerCall = gcBefore is { } b1 && gcAfter is { } a1 ? (a1.AllocatedBytes - b1.AllocatedBytes) / perCall : null,
            ServerGcsPerKCalls = gcBefore is { } b2 && gcAfter is { } a2 ? (a2.Collections - b2.Collections) * 1000.0 / perCall : null,
            ServerGcPauseUsPerCall = gcBefore is { } b3 && gcAfter is { } a3 ? (a3.PauseSeconds - b3.PauseSeconds) * 1e6 / perCall : null,
        };
    }

    private static async Task<(long Errors, string? FirstError)> PhaseAsync(
        IEchoTarget target, int concurrency, TimeSpan duration, LatencyRecorder recorder)
    {
        using var hard = CancellationTokenSource.CreateLinkedTokenSource(Machine.Interrupted);
        hard.CancelAfter(duration + HardMargin);
        var token = hard.Token;
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long errors = 0;
        string? firstError = null;

        async Task Worker(int worker)
        {
            while (Stopwatch.GetTimestamp() < deadline && !token.IsCancellationRequested)
            {
                var t0 = Stopwatch.GetTimestamp();
                bool ok;
                try
                {
                    ok = await target.CallAsync(worker, token).ConfigureAwait(false);
                    if (!ok)
                        Interlocked.CompareExchange(ref firstError, "a reply was not 'Echo: hi'", null);
                }
#pragma warning disable CA1031 // Any failure of a call is counted as an error; the loop goes on.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    ok = false;
                    Interlocked.CompareExchange(ref firstError, $"{ex.GetType().Name}: {ex.Message}", null);
                }

                var elapsed = Stopwatch.GetTimestamp() - t0;
                if (!ok)
                    Interlocked.Increment(ref errors);
                if (!recorder.Record(elapsed))
                    break;
            }
        }

        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var index = w;
            workers[w] = Task.Run(() => Worker(index), CancellationToken.None);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return (Interlocked.Read(ref errors), firstError);
    }
}
