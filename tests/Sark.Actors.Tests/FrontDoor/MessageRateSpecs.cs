using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="MessageRate"/>, compiled in from Sark.Host: the token bucket of a legacy SSE session's posts, on a clock the spec moves.</summary>
public sealed class MessageRateSpecs
{
    [Fact]
    public void A_full_bucket_takes_a_burst_then_refuses_with_the_wait_for_the_next_token()
    {
        var rate = new MessageRate(perSecond: 2, burst: 3, nowMs: 1_000);

        var taken = Enumerable.Range(0, 3).Count(i => rate.TryTake(1_000, out _));
        var refused = !rate.TryTake(1_000, out var retryAfter);

        Assert.Equal(3, taken);
        Assert.True(refused);
        Assert.Equal(TimeSpan.FromMilliseconds(500), retryAfter);
    }

    [Fact]
    public void Tokens_come_back_at_the_sustained_rate_and_never_above_the_burst()
    {
        var rate = new MessageRate(perSecond: 10, burst: 2, nowMs: 0);
        Assert.True(rate.TryTake(0, out _));
        Assert.True(rate.TryTake(0, out _));
        Assert.False(rate.TryTake(50, out var wait));
        Assert.Equal(TimeSpan.FromMilliseconds(50), wait);

        Assert.True(rate.TryTake(100, out _));
        Assert.False(rate.TryTake(100, out _));

        // A long quiet spell fills the bucket to the burst only.
        var afterQuiet = Enumerable.Range(0, 10).Count(i => rate.TryTake(60_000, out _));
        Assert.Equal(2, afterQuiet);
    }

    [Fact]
    public void A_clock_that_goes_back_adds_nothing()
    {
        var rate = new MessageRate(perSecond: 1, burst: 1, nowMs: 10_000);
        Assert.True(rate.TryTake(10_000, out _));

        Assert.False(rate.TryTake(5_000, out _));
        Assert.True(rate.TryTake(11_000, out _));
    }

    [Fact]
    public void Concurrent_posts_take_no_more_than_the_burst()
    {
        var rate = new MessageRate(perSecond: 1, burst: 100, nowMs: 0);
        var taken = 0;

        Parallel.For(0, 1_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (rate.TryTake(0, out _))
                Interlocked.Increment(ref taken);
        });

        Assert.Equal(100, taken);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void A_rate_or_burst_below_one_is_refused(int perSecond, int burst) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new MessageRate(perSecond, burst, 0));
}
