using System.Diagnostics;

namespace Sark.Benchmarks.Load;

/// <summary>
/// Latencies of one measured run, in <see cref="Stopwatch"/> ticks, in one array allocated up
/// front. Recording is an interlocked increment and a store: no allocation per call. When the
/// array is full, further calls are counted but not recorded (and the loop stops, see
/// <see cref="ClosedLoop"/>).
/// </summary>
internal sealed class LatencyRecorder
{
    private readonly long[] _ticks;
    private int _next;

    public LatencyRecorder(int capacity) => _ticks = new long[capacity];

    public int Capacity => _ticks.Length;

    /// <summary>Calls recorded so far (at most <see cref="Capacity"/>).</summary>
    public int Count => Math.Min(Volatile.Read(ref _next), _ticks.Length);

    public bool IsFull => Volatile.Read(ref _next) >= _ticks.Length;

    public void Reset() => Volatile.Write(ref _next, 0);

    /// <summary>Records one call; false when the array is full.</summary>
    public bool Record(long ticks)
    {
        var slot = Interlocked.Increment(ref _next) - 1;
        if (slot >= _ticks.Length)
            return false;
        _ticks[slot] = ticks;
        return true;
    }

    /// <summary>Sorts what was recorded and returns the percentiles in milliseconds (nearest rank).</summary>
    public Percentiles Summarize()
    {
        var n = Count;
        if (n == 0)
            return new Percentiles(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        Array.Sort(_ticks, 0, n);
        var ticks = _ticks;
        double At(double p) => ToMs(ticks[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)]);
        return new Percentiles(At(0.50), At(0.90), At(0.99), ToMs(ticks[n - 1]), ToMs(ticks[0]));
    }

    /// <summary>The <paramref name="p"/> quantile in milliseconds (nearest rank); call after <see cref="Summarize"/>, which sorts.</summary>
    public double Quantile(double p)
    {
        var n = Count;
        return n == 0 ? double.NaN : ToMs(_ticks[Math.Clamp((int)Math.Ceiling(p * n) - 1, 0, n - 1)]);
    }

    public static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Latency percentiles of a run, in milliseconds.</summary>
internal readonly record struct Percentiles(double P50, double P90, double P99, double Max, double Min);
