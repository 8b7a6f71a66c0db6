using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Sark.Actors;
using Sark.Actors.Audit;
using Sark.Actors.Configuration;
using Sark.Actors.Ops.Palettes;
using Sark.Actors.Policy;

namespace Sark.Host.Health;

/// <summary>
/// Decides readiness: the actor system runs, the policy engine decided its last call (or failed
/// more than <see cref="PolicyHold"/> ago), and every upstream with <c>required = true</c> has
/// a closed circuit and is ready (a gateway upstream's registry must also answer its own
/// <c>GET /health</c> as healthy). Upstreams that are not required are listed but never block.
/// The audit store is reported (a failing store keeps its events queued and retries) but does
/// not block: calls go on while the queue holds.
/// </summary>
internal sealed class Readiness(ISarkGateway gateway, SarkOptions options, ActorSystem system, AuditAccess audit, ILogger<Readiness> logger)
{
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a policy engine that failed to decide keeps the node not ready. It clears by
    /// itself after that, so that a node taken out of rotation is tried again (no traffic, no
    /// decision to clear it).
    /// </summary>
    internal static readonly TimeSpan PolicyHold = TimeSpan.FromSeconds(30);

    private readonly AuditLog? _audit = audit.Log;

    private readonly ISarkGateway _gateway = gateway;
    private readonly SarkOptions _options = options;
    private readonly ActorSystem _system = system;
    private readonly ILogger _logger = logger;

    public bool ActorSystemRunning => !_system.WhenTerminated.IsCompleted;

    public async Task<ReadinessResponse> CheckAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<UpstreamStatus> statuses = [];
        string? failure = null;
        if (!ActorSystemRunning)
        {
            failure = "The actor system has stopped.";
        }
        else
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StatusTimeout);
            try
            {
                // WaitAsync: a probe must answer even if the runtime never does.
                statuses = await _gateway.GetUpstreamsAsync(timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Log.ReadinessFailed(_logger, ex);
                failure = $"The upstreams' status could not be read: {ex.Message}";
            }
        }

        var byName = new Dictionary<string, UpstreamStatus>(StringComparer.Ordinal);
        foreach (var status in statuses)
            byName[status.Name] = status;

        var reasons = new List<string>();
        if (failure is not null)
            reasons.Add(failure);
        var checks = new SortedDictionary<string, DependencyCheck>(StringComparer.Ordinal)
        {
            ["actor_system"] = ActorSystemRunning ? new DependencyCheck("ok", false) : new DependencyCheck("down", true, "The actor system has stopped."),
            ["policy"] = PolicyCheck(),
            ["audit"] = AuditCheck(),
        };
        if (ClusterCheck() is { } cluster)
            checks["cluster"] = cluster;
        foreach (var (name, check) in checks)
        {
            if (check.Blocking && name != "actor_system")
                reasons.Add($"{name}: {check.Detail}");
        }

        var upstreams = new SortedDictionary<string, UpstreamReadiness>(StringComparer.Ordinal);
        foreach (var (name, upstream) in _options.Upstreams)
        {
            var entry = byName.TryGetValue(name, out var s)
                ? new UpstreamReadiness(s.State, s.Breaker, upstream.Required, s.LastError, s.RegistryHealth)
                : new UpstreamReadiness(null, null, upstream.Required, failure ?? "The upstream has not reported its state yet.");
            upstreams[name] = entry;
            if (upstream.Required && !entry.Ready && failure is null)
                reasons.Add($"upstream {name} is required and is {Describe(entry)}");
        }

        return new ReadinessResponse(reasons.Count == 0 ? "ready" : "not_ready", reasons, checks, upstreams);
    }

    private static string Describe(UpstreamReadiness entry) =>
        entry.State is null ? "not reported yet"
        : entry.RegistryHealth == "unhealthy" ? "unhealthy (its registry's /health)"
        : $"{entry.State.ToString()!.ToLowerInvariant()} with its circuit {entry.Breaker.ToString()!.ToLowerInvariant()}"
          + (entry.LastError is { } error ? $": {error}" : "");

    private DependencyCheck PolicyCheck()
    {
        if (_options.Policy is null)
            return new DependencyCheck("disabled", false, "No policy is configured: every call is allowed.");
        var engine = _options.Policy.EngineName;
        var failedAt = PolicyTelemetry.LastUnavailableTimestamp;
        if (failedAt != 0 && Stopwatch.GetElapsedTime(failedAt) < PolicyHold)
            return new DependencyCheck("unavailable", true, $"the {engine} engine could not decide its last call: {PolicyTelemetry.LastUnavailableReason}", engine);
        return new DependencyCheck("ok", false, null, engine);
    }

    /// <summary>On a clustered node: ready only while this node is an <c>up</c> member (not joining, leaving or down).</summary>
    private DependencyCheck? ClusterCheck()
    {
        if (!ClusterMembers.IsClustered(_system))
            return null;
        var cluster = Akka.Cluster.Cluster.Get(_system);
        var snapshot = ClusterMembers.Snapshot(cluster.State, cluster.SelfAddress);
        var member = snapshot.Members.Any(m => m.Address.Equals(cluster.SelfAddress));
        var status = member ? ClusterMembers.StatusName(cluster.SelfMember.Status) : "not_joined";
        var up = member && cluster.SelfMember.Status == MemberStatus.Up;
        return new DependencyCheck(up ? "ok" : status, !up,
            up ? null
            : member ? $"this node is {status}, not an up member of the cluster"
            : $"this node has not joined the cluster yet (seed nodes: {string.Join(", ", _options.Cluster.SeedNodes)})")
        {
            Address = cluster.SelfAddress.ToString(),
            Members = snapshot.Members.Length,
            Unreachable = snapshot.Members.Count(m => !m.Reachable),
        };
    }

    private DependencyCheck AuditCheck()
    {
        if (_audit is null)
            return new DependencyCheck("disabled", false, "Audit is off (sark.audit.enabled = false).");
        var store = _audit.Options.Store.ToString().ToLowerInvariant();
        return _audit.ConsecutiveWriteFailures > 0
            ? new DependencyCheck("failing", false, $"{_audit.ConsecutiveWriteFailures} batch writes to the {store} store failed in a row (events are kept and retried): {_audit.LastWriteError}", Store: store, QueueDepth: _audit.QueueDepth)
            : new DependencyCheck("ok", false, Store: store, QueueDepth: _audit.QueueDepth);
    }
}
