using System.Diagnostics;

namespace Sark.Integration.Tests.Infrastructure;

/// <summary>Bounded polling: probe, and if the condition does not hold yet, wait a little and probe again.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>Returns the first probe result that satisfies <paramref name="done"/>; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var last = await probe().ConfigureAwait(false);
            if (done(last))
                return last;
            if (clock.Elapsed >= timeout)
                Assert.Fail($"{what} did not happen within {timeout.TotalSeconds:0.#}s; the last probe gave: {last}");
            await Task.Delay(Interval).ConfigureAwait(false);
        }
    }
}
