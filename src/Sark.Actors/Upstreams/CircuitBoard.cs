using System.Collections.Concurrent;

namespace Sark.Actors.Upstreams;

/// <summary>
/// Which circuits are open right now, written by the circuits and read by the facade without
/// a message. While an upstream is down, calls to it are refused before they reach the actor
/// tree, so a storm of calls to a dead upstream costs a dictionary read each, not an Ask.
/// The circuit stays the source of truth: it publishes here on every change of its state.
/// The manager also posts each local circuit's address here, and each circuit its ready
/// connection, so that a call goes to the connection straight away instead of through the
/// manager and the circuit (two mailbox hops less per call).
/// </summary>
internal sealed class CircuitBoard
{
    private readonly ConcurrentDictionary<string, OpenCircuit> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Akka.Actor.IActorRef> _circuits = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Akka.Actor.IActorRef> _connections = new(StringComparer.Ordinal);

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

    /// <summary>The manager's local circuit for <paramref name="upstream"/> (stable for the manager's life); null while unknown or elsewhere.</summary>
    public Akka.Actor.IActorRef? CircuitOf(string upstream) => _circuits.TryGetValue(upstream, out var circuit) ? circuit : null;

    /// <summary>
    /// The connection actor that serves <paramref name="upstream"/>'s calls now (posted by its circuit
    /// once ready, withdrawn when it goes down); null otherwise. A call sent to it after it stopped
    /// is not lost: the manager takes it from the dead letters and hands it to the circuit.
    /// </summary>
    public Akka.Actor.IActorRef? ConnectionOf(string upstream) => _connections.TryGetValue(upstream, out var connection) ? connection : null;

    /// <summary>The circuit's connection is ready (<paramref name="connection"/>) or gone (null).</summary>
    public void PostConnection(string upstream, Akka.Actor.IActorRef? connection)
    {
        if (connection is null)
            _connections.TryRemove(upstream, out _);
        else
            _connections[upstream] = connection;
    }

    /// <summary>The manager made (<paramref name="circuit"/>) or lost (null) the circuit of an upstream.</summary>
    public void PostCircuit(string upstream, Akka.Actor.IActorRef? circuit)
    {
        if (circuit is null)
            _circuits.TryRemove(upstream, out _);
        else
            _circuits[upstream] = circuit;
    }

    /// <summary>What a caller is told when a call is refused because the circuit is open.</summary>
    public static string RefusalMessage(string upstream, string? reason, TimeSpan retryAfter) =>
        $"Upstream '{upstream}' is unavailable ({reason ?? "connecting"}); its circuit is open. Next try in about {Math.Ceiling(retryAfter.TotalSeconds):0}s.";
}
