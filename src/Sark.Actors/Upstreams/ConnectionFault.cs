using Akka.Event;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;

namespace Sark.Actors.Upstreams;

/// <summary>
/// What every connection actor shares of the fault protocol (see <see cref="ConnectionEvents.Faulted"/>):
/// the error its callers get, and how long it waits for the circuit's acknowledgement.
/// </summary>
internal static class ConnectionFault
{
    /// <summary>Stop even without the circuit's acknowledgement after this long.</summary>
    public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The error of a faulted connection: the reason and the time until the supervisor's next try.</summary>
    public static SarkError Error(UpstreamOptions options, string reason, int attempt)
    {
        var retryAfter = CircuitState.UpperDelay(attempt, options.Backoff);
        return new SarkError(SarkErrorCode.UpstreamUnavailable,
            $"Upstream '{options.Name}' failed: {reason.TrimEnd('.')}. Its circuit is open and it reconnects after a backoff; try again in about {Math.Ceiling(retryAfter.TotalSeconds):0}s.",
            RetryAfter: retryAfter);
    }

    /// <summary>The timer message that ends the wait for the acknowledgement.</summary>
    public sealed class AckTimedOut : IDeadLetterSuppression
    {
        public static readonly AckTimedOut Instance = new();

        private AckTimedOut()
        {
        }
    }
}
