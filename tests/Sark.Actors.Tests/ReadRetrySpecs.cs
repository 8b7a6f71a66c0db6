using Sark.Actors.Configuration;
using Sark.Actors.Upstreams.Gateway;

namespace Sark.Actors.Tests;

public sealed class ReadRetrySpecs
{
    private static readonly ReadRetryOptions Options = new()
    {
        Attempts = 3,
        MinBackoff = TimeSpan.FromMilliseconds(100),
        MaxBackoff = TimeSpan.FromMilliseconds(300),
    };

    [Fact]
    public void Three_attempts_in_all_are_allowed_whatever_number_of_pages_the_read_takes()
    {
        var retry = new ReadRetry(Options, new Random(1));
        retry.Attempt();
        retry.Attempt(); // a second page, no failure in between: it still spends the budget
        Assert.True(retry.TryRetry(null, out _));
        retry.Attempt();
        Assert.False(retry.TryRetry(null, out _));
        Assert.Equal(3, retry.Attempts);
    }

    [Fact]
    public void Delays_grow_exponentially_with_jitter_and_stay_under_the_cap()
    {
        var retry = new ReadRetry(Options with { Attempts = 10 }, new Random(7));
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 6; i++)
        {
            retry.Attempt();
            Assert.True(retry.TryRetry(null, out var delay));
            delays.Add(delay);
        }

        Assert.InRange(delays[0].TotalMilliseconds, 50, 100);
        Assert.InRange(delays[1].TotalMilliseconds, 100, 200);
        Assert.All(delays.Skip(2), d => Assert.InRange(d.TotalMilliseconds, 150, 300));
    }

    [Fact]
    public void A_retry_after_within_the_cap_is_honoured_and_a_longer_one_ends_the_retries()
    {
        var retry = new ReadRetry(Options);
        retry.Attempt();
        Assert.True(retry.TryRetry(TimeSpan.FromMilliseconds(250), out var delay));
        Assert.Equal(TimeSpan.FromMilliseconds(250), delay);
        Assert.False(retry.TryRetry(TimeSpan.FromSeconds(5), out _));
    }
}
