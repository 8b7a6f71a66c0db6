using System.Diagnostics;

namespace Sark.Actors.Upstreams.Stdio;

/// <summary>
/// A token bucket for log lines: <c>rate</c> lines a second with bursts up to <c>burst</c>.
/// Pure (time is passed in as <see cref="Stopwatch"/> timestamps) so it is tested without clocks.
/// </summary>
internal sealed class LineRateLimiter(int ratePerSecond, int burst)
{
    private double _tokens = burst;
    private long _last;
    private long _suppressed;

    /// <summary>Takes a token. On success, <paramref name="suppressedBefore"/> says how many lines were dropped since the last success.</summary>
    public bool TryTake(long nowTimestamp, out long suppressedBefore)
    {
        if (_last != 0)
        {
            var elapsed = (nowTimestamp - _last) / (double)Stopwatch.Frequency;
            _tokens = Math.Min(burst, _tokens + (elapsed * ratePerSecond));
        }

        _last = nowTimestamp;
        if (_tokens < 1)
        {
            _suppressed++;
            suppressedBefore = 0;
            return false;
        }

        _tokens -= 1;
        suppressedBefore = _suppressed;
        _suppressed = 0;
        return true;
    }
}
