using Sark.Actors.Configuration;

namespace Sark.Actors.Upstreams.Gateway;

/// <summary>
/// The retry budget of one logical read (a discovery walk, a server read, a health check):
/// <see cref="ReadRetryOptions.Attempts"/> attempts in all, whatever number of pages the read
/// takes, so that a retry never stacks on a retry. Delays grow exponentially from
/// <see cref="ReadRetryOptions.MinBackoff"/> to <see cref="ReadRetryOptions.MaxBackoff"/>, with
/// "equal jitter" (half fixed, half random). Pure; the caller waits.
/// </summary>
internal sealed class ReadRetry
{
    private readonly ReadRetryOptions _options;
    private readonly Random _random;

    public ReadRetry(ReadRetryOptions options, Random? random = null)
    {
        _options = options;
        _random = random ?? Random.Shared;
    }

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; private set; }

    /// <summary>Records an attempt about to be made.</summary>
    public void Attempt() => Attempts++;

    /// <summary>
    /// After a retryable failure: whether another attempt is allowed, and how long to wait first.
    /// <paramref name="retryAfter"/> (a server's <c>Retry-After</c>) is honoured when it is within
    /// the budget's longest backoff; a longer one ends the retries.
    /// </summary>
    public bool TryRetry(TimeSpan? retryAfter, out TimeSpan delay)
    {
        delay = TimeSpan.Zero;
        if (Attempts >= _options.Attempts)
            return false;
        if (retryAfter is { } asked)
        {
            if (asked > _options.MaxBackoff)
                return false;
            delay = asked;
            return true;
        }

        var exponential = _options.MinBackoff.TotalMilliseconds * Math.Pow(2, Math.Max(0, Attempts - 1));
        var capped = Math.Min(exponential, _options.MaxBackoff.TotalMilliseconds);
        delay = TimeSpan.FromMilliseconds((capped / 2) + (_random.NextDouble() * capped / 2));
        return true;
    }
}
