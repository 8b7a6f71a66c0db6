using System.Collections.Concurrent;

namespace Sark.Actors.Upstreams;

/// <summary>
/// Which circuits are open right now, written by the circuits and read by the facade without
/// a message. While an upstream is down, calls to it are refused before they reach the actor
/// tree, so a storm of calls to a dead upstream costs a dictionary read each, not an Ask.
/// The circuit stays the source of truth: it publishes here on every change of its state.
/// </summary>
internal sealed class CircuitBoard
{
    private readonly ConcurrentDictionary<string, OpenCircuit> _open = new(StringComparer.Ordinal);

    /// <summary>An open circuit: when the supervisor's next try is due, and why it opened.</summary>
    public sealed record OpenCircuit(DateTimeOffset? NextTryAt, string? Reason);

    public void Publish(string upstream, OpenCircuit? open)
    {
        if (open is null)
            _open.TryRemove(upstream, out _);
        else
            _open[upstream] = open;
    }

    public bool TryGetOpen(string upstream, out OpenCircuit open) => _open.TryGetValue(upstream, out open!);

    /// <summary>What a caller is told when a call is refused because the circuit is open.</summary>
    public static string RefusalMessage(string upstream, string? reason, TimeSpan retryAfter) =>
        $"Upstream '{upstream}' is unavailable ({reason ?? "connecting"}); its circuit is open. Next try in about {Math.Ceiling(retryAfter.TotalSeconds):0}s.";
}
