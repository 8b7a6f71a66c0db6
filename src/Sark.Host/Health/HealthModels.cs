using System.Text.Json.Serialization;
using Sark.Actors;

namespace Sark.Host.Health;

/// <summary><c>GET /health</c>, the gateway contract: <c>healthy</c> or <c>unhealthy</c>.</summary>
internal sealed record HealthResponse(string Status);

/// <summary><c>GET /health/live</c>: whether the actor system runs.</summary>
internal sealed record LivenessResponse(string Status, string ActorSystem);

/// <summary>
/// <c>GET /health/ready</c>: <c>ready</c> or <c>not_ready</c>; <see cref="Reasons"/> says why it
/// is not ready (empty when ready), <see cref="Checks"/> gives each dependency's state, and
/// <see cref="Upstreams"/> each upstream's part in it.
/// </summary>
internal sealed record ReadinessResponse(
    string Status, IReadOnlyList<string> Reasons, IReadOnlyDictionary<string, DependencyCheck> Checks, IReadOnlyDictionary<string, UpstreamReadiness> Upstreams);

/// <summary>
/// One dependency of readiness: <c>actor_system</c>, <c>policy</c>, <c>audit</c>, and <c>cluster</c>
/// on a clustered node. <see cref="Status"/> is <c>ok</c>, <c>disabled</c>, or what is wrong
/// (<c>down</c>, <c>unavailable</c>, <c>failing</c>, a member status other than up);
/// <see cref="Blocking"/> says whether that state keeps the node from being ready.
/// </summary>
internal sealed record DependencyCheck(string Status, bool Blocking, string? Detail = null, string? Engine = null, string? Store = null, long? QueueDepth = null)
{
    /// <summary>The cluster check: this node's address, the members it sees, and how many of them are unreachable.</summary>
    public string? Address { get; init; }

    public int? Members { get; init; }

    public int? Unreachable { get; init; }
}

/// <summary>
/// One upstream in the readiness detail. <see cref="State"/> and <see cref="Breaker"/> are null
/// while the upstream has not reported yet.
/// </summary>
internal sealed record UpstreamReadiness(UpstreamState? State, BreakerState? Breaker, bool Required, string? LastError, string? RegistryHealth = null)
{
    /// <summary>
    /// A required upstream counts towards readiness only when its circuit is closed and it serves
    /// calls, and, for a gateway upstream, when its registry's own <c>GET /health</c> says healthy.
    /// </summary>
    [JsonIgnore]
    public bool Ready => State == UpstreamState.Ready && Breaker == BreakerState.Closed && RegistryHealth != "unhealthy";
}
