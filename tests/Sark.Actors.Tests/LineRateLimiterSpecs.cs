using System.Diagnostics;
using Sark.Actors.Upstreams.Stdio;

namespace Sark.Actors.Tests;

public sealed class LineRateLimiterSpecs
{
    private static long At(double seconds) => 1 + (long)(seconds * Stopwatch.Frequency);

    [Fact]
    public void A_burst_passes_then_lines_are_dropped_and_counted()
    {
        var limiter = new LineRateLimiter(ratePerSecond: 2, burst: 3);

        Assert.True(limiter.TryTake(At(0), out _));
        Assert.True(limiter.TryTake(At(0), out _));
        Assert.True(limiter.TryTake(At(0), out _));
        Assert.False(limiter.TryTake(At(0), out _));
        Assert.False(limiter.TryTake(At(0.1), out _));

        // Half a second later one token is back; the line that takes it learns of the two dropped.
        Assert.True(limiter.TryTake(At(0.6), out var dropped));
        Assert.Equal(2, dropped);
        Assert.False(limiter.TryTake(At(0.6), out _));
    }

    [Fact]
    public void Tokens_refill_at_the_rate_up_to_the_burst()
    {
        var limiter = new LineRateLimiter(ratePerSecond: 10, burst: 2);
        Assert.True(limiter.TryTake(At(0), out _));
        Assert.True(limiter.TryTake(At(0), out _));

        // A long quiet spell refills only up to the burst.
        Assert.True(limiter.TryTake(At(100), out var dropped));
        Assert.Equal(0, dropped);
        Assert.True(limiter.TryTake(At(100), out _));
        Assert.False(limiter.TryTake(At(100), out _));
    }
}
