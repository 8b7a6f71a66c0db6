using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Sark.Benchmarks.Load;

/// <summary>
/// Releases work at planned instants from a thread of its own, sleeping in steps of about
/// 100 µs (<c>usleep</c>) between them. A <c>Task.Delay(1)</c> loop on the thread pool wakes
/// 1–2 ms late and in bursts, which an open-loop latency measured from the plan counts as the
/// server's delay; this keeps the harness's own lateness to a fraction of a millisecond.
/// </summary>
internal static class Pacer
{
    private const uint StepMicroseconds = 100;

    /// <summary>
    /// Calls <paramref name="release"/> with (index, planned timestamp) for indexes 0 to
    /// <paramref name="total"/> − 1, each at or just after start + index / rate. Returns how many
    /// were released (fewer when cancelled).
    /// </summary>
    public static Task<long> RunAsync(int rate, long total, Action<long, long> release, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.TrySetResult(Run(rate, total, release, cancellationToken));
            }
#pragma warning disable CA1031 // The failure is handed to the awaiting caller.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                done.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "pacer",
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        return done.Task;
    }

    private static long Run(int rate, long total, Action<long, long> release, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        long planned = 0;
        while (planned < total && !cancellationToken.IsCancellationRequested)
        {
            var now = Stopwatch.GetTimestamp();
            var due = Math.Min(total, (long)((now - start) * (double)rate / Stopwatch.Frequency) + 1);
            for (; planned < due; planned++)
                release(planned, start + (long)(planned * (double)Stopwatch.Frequency / rate));
            if (planned < total)
                _ = usleep(StepMicroseconds);
        }

        return planned;
    }

    [DllImport("libc", EntryPoint = "usleep", SetLastError = true)]
#pragma warning disable SYSLIB1054 // A plain DllImport, as NodeProcess's kill: this project does not allow unsafe code.
    private static extern int usleep(uint microseconds);
#pragma warning restore SYSLIB1054
}
