using System.Collections.Immutable;
using Akka.Actor;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;
using static Sark.Actors.Cluster.ClusterMessages;

namespace Sark.Actors.Cluster;

/// <summary>
/// What a node knows of every upstream in the cluster, wherever it runs: its latest status and
/// the node hosting it, the nodes that are unreachable or gone, and the calls this node has in
/// flight to each upstream (so that they fail at once when their host is lost). Pure: time is
/// passed in; the cluster manager (<see cref="ShardedUpstreams"/>) is its only user.
/// </summary>
internal sealed class UpstreamDirectory(SarkOptions options)
{
    private readonly Dictionary<string, HostedStatus> _latest = new(StringComparer.Ordinal);
    private readonly HashSet<string> _lost = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingCall> _pending = new(StringComparer.Ordinal);

    /// <summary>A call this node routed and waits for: who to answer, and the in-process relays.</summary>
    public sealed record PendingCall(
        string RequestId, string Upstream, IActorRef ReplyTo, IProgress<ToolProgress>? Progress, IUpstreamClient? Client, DateTimeOffset Deadline)
    {
        /// <summary>What was sent to the region, until the entity accepts it (<see cref="CallAccepted"/>); then null.</summary>
        public object? Unaccepted { get; set; }

        /// <summary>When <see cref="Unaccepted"/> was last sent.</summary>
        public DateTimeOffset SentAt { get; set; }
    }

    public int PendingCount => _pending.Count;

    /// <summary>Takes a status if it is newer than the one held. False: it was old news.</summary>
    public bool Apply(HostedStatus status)
    {
        if (!options.Upstreams.ContainsKey(status.Status.Name))
            return false;
        var previous = _latest.GetValueOrDefault(status.Status.Name);
        if (!status.Supersedes(previous))
            return false;
        _latest[status.Status.Name] = status;
        return true;
    }

    /// <summary>The node hosting an upstream, as last reported; null before any report.</summary>
    public string? HostOf(string upstream) => _latest.GetValueOrDefault(upstream)?.Host;

    /// <summary>A node became unreachable or left: the upstreams it hosted (their calls are failed by <see cref="TakeCallsHostedAt"/>).</summary>
    public ImmutableArray<string> NodeLost(string host)
    {
        _lost.Add(host);
        return HostedAt(host);
    }

    /// <summary>The upstreams whose last host is lost and that have not reported from another node since.</summary>
    public ImmutableArray<string> Orphans() =>
        [.. _latest.Values.Where(s => _lost.Contains(s.Host)).Select(s => s.Status.Name).Order(StringComparer.Ordinal)];

    /// <summary>A node is reachable again (or a node with its address is up): the upstreams it hosts.</summary>
    public ImmutableArray<string> NodeBack(string host) => _lost.Remove(host) ? HostedAt(host) : [];

    private ImmutableArray<string> HostedAt(string host) =>
        [.. _latest.Values.Where(s => s.Host == host).Select(s => s.Status.Name).Order(StringComparer.Ordinal)];

    /// <summary>The status the node reports: the host's last, marked open while the host is lost; connecting before the first report.</summary>
    public UpstreamStatus StatusOf(UpstreamOptions upstream, DateTimeOffset now)
    {
        if (!_latest.TryGetValue(upstream.Name, out var hosted))
            return CircuitState.Initial(upstream.Name, upstream.Kind).ToStatus(now);
        if (!_lost.Contains(hosted.Host))
            return hosted.Status with { Node = hosted.Host };
        return hosted.Status with
        {
            Node = hosted.Host,
            State = UpstreamState.Backoff,
            Breaker = BreakerState.Open,
            LastError = LostReason(hosted.Host),
            ProcessId = null,
            ConnectedSince = null,
            RetryAfter = options.Cluster.StableAfter,
        };
    }

    /// <summary>Every configured upstream's status, by name.</summary>
    public ImmutableArray<UpstreamStatus> Statuses(DateTimeOffset now) =>
        [.. options.Upstreams.Values.OrderBy(u => u.Name, StringComparer.Ordinal).Select(u => StatusOf(u, now))];

    /// <summary>What the circuit board says for an upstream: open while its circuit is open or its host is lost.</summary>
    public CircuitBoard.OpenCircuit? BoardOf(string upstream, DateTimeOffset now)
    {
        if (!options.Upstreams.TryGetValue(upstream, out var configured))
            return null;
        var status = StatusOf(configured, now);
        return status.Breaker == BreakerState.Open
            ? new CircuitBoard.OpenCircuit(now + (status.RetryAfter ?? TimeSpan.Zero), status.LastError)
            : null;
    }

    public static string LostReason(string host) => $"its node {host} is unreachable or left the cluster";

    public void Track(PendingCall call) => _pending[call.RequestId] = call;

    public PendingCall? Find(string requestId) => _pending.GetValueOrDefault(requestId);

    /// <summary>The call is answered (or given up): forget it, and say who waited.</summary>
    /// <summary>The entity has the call: it is not sent again.</summary>
    public void Accept(string requestId)
    {
        if (_pending.TryGetValue(requestId, out var call))
            call.Unaccepted = null;
    }

    /// <summary>
    /// The calls no entity has accepted <paramref name="after"/> their last send (sharding may drop a
    /// message during a hand-off): they are due again, from <paramref name="now"/>.
    /// </summary>
    public ImmutableArray<PendingCall> DueAgain(DateTimeOffset now, TimeSpan after)
    {
        var due = _pending.Values.Where(c => c.Unaccepted is not null && c.SentAt + after <= now).ToImmutableArray();
        foreach (var call in due)
            call.SentAt = now;
        return due;
    }

    public PendingCall? Complete(string requestId) => _pending.Remove(requestId, out var call) ? call : null;

    /// <summary>Removes and returns the calls in flight to upstreams hosted at <paramref name="host"/>.</summary>
    public ImmutableArray<PendingCall> TakeCallsHostedAt(string host) =>
        Take(call => HostOf(call.Upstream) == host);

    /// <summary>Removes and returns the calls past their deadline (their caller's Ask has long timed out).</summary>
    public ImmutableArray<PendingCall> TakeExpired(DateTimeOffset now) => Take(call => call.Deadline <= now);

    private ImmutableArray<PendingCall> Take(Func<PendingCall, bool> which)
    {
        var taken = _pending.Values.Where(which).ToImmutableArray();
        foreach (var call in taken)
            _pending.Remove(call.RequestId);
        return taken;
    }
}
