using System.Collections.Concurrent;
using System.Diagnostics;

namespace Sark.Actors.Telemetry;

/// <summary>
/// Rate-limits repeated log lines by key (an error code, a slow server): at most
/// <c>burst</c> lines per key in each window. The first line after a suppression says how many
/// were left out. Keys are low-cardinality (codes, server names), so the table stays small.
/// Thread-safe.
/// </summary>
public sealed class LogLimiter(int burst, TimeSpan window)
{
    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly long _windowTicks = (long)(window.TotalSeconds * Stopwatch.Frequency);

    /// <summary>At most <c>error-log-burst</c> lines per key per 10 s.</summary>
    public static LogLimiter ForErrors(int burst) => new(burst, TimeSpan.FromSeconds(10));

    /// <summary>
    /// Whether a line with this key may be logged at <paramref name="nowTimestamp"/>
    /// (<see cref="Stopwatch.GetTimestamp"/>). When it may, <paramref name="suppressed"/> is
    /// the number of lines with this key left out since the last one logged.
    /// </summary>
    public bool TryLog(string key, long nowTimestamp, out long suppressed)
    {
        var slot = _slots.GetOrAdd(key, static _ => new Slot());
        lock (slot)
        {
            if (slot.WindowStart == 0 || nowTimestamp - slot.WindowStart >= _windowTicks)
            {
                slot.WindowStart = nowTimestamp;
                slot.Count = 0;
            }

            if (slot.Count >= burst)
            {
                slot.Suppressed++;
                suppressed = 0;
                return false;
            }

            slot.Count++;
            suppressed = slot.Suppressed;
            slot.Suppressed = 0;
            return true;
        }
    }

    private sealed class Slot
    {
        public long WindowStart;
        public int Count;
        public long Suppressed;
    }
}
