namespace Sark.Host.FrontDoor;

/// <summary>
/// The rate of one legacy SSE session's posts to <c>/messages</c>: a token bucket of
/// <c>messages-burst</c> tokens, refilled at <c>messages-per-second</c>; each post takes one.
/// Time comes in as milliseconds (<see cref="Environment.TickCount64"/> in the node), so the
/// logic is pure. Thread-safe: a client may post concurrently.
/// </summary>
internal sealed class MessageRate
{
    private readonly object _gate = new();
    private readonly double _perMillisecond;
    private readonly int _burst;
    private double _tokens;
    private long _last;

    /// <param name="perSecond">Tokens added per second; at least 1.</param>
    /// <param name="burst">The bucket's size, full at the start; at least 1.</param>
    /// <param name="nowMs">The time of the start, in milliseconds.</param>
    public MessageRate(int perSecond, int burst, long nowMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _perMillisecond = perSecond / 1000.0;
        _burst = burst;
        _tokens = burst;
        _last = nowMs;
    }

    /// <summary>Takes a token at <paramref name="nowMs"/>; false, with the wait until the next one, when the bucket is empty.</summary>
    public bool TryTake(long nowMs, out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            if (nowMs > _last)
            {
                _tokens = Math.Min(_burst, _tokens + ((nowMs - _last) * _perMillisecond));
                _last = nowMs;
            }

            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromMilliseconds(Math.Ceiling((1 - _tokens) / _perMillisecond));
            return false;
        }
    }
}
