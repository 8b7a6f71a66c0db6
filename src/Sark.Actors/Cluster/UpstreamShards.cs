using System.Collections.Immutable;
using Akka.Cluster.Sharding;
using Sark.Actors.Configuration;
using Sark.Actors.Upstreams;

namespace Sark.Actors.Cluster;

/// <summary>
/// One shard region: the upstreams that need the same role. <paramref name="HostedHere"/>: this
/// node has the role (or none is needed), so it runs a full region; otherwise a proxy.
/// </summary>
internal sealed record ShardGroup(string TypeName, string? Role, bool HostedHere, ImmutableArray<string> Upstreams);

/// <summary>Which shard regions a node runs, and which one each upstream lives in. Pure.</summary>
internal static class UpstreamShards
{
    /// <summary>The type name of the region of upstreams that need no role.</summary>
    public const string DefaultTypeName = "sark-upstreams";

    /// <summary>
    /// The role a node needs to host <paramref name="upstream"/>: its own <c>cluster-role</c>,
    /// else <c>sark.cluster.upstream-role</c>, else none (any node).
    /// </summary>
    public static string? RoleOf(UpstreamOptions upstream, ClusterOptions cluster) =>
        !string.IsNullOrEmpty(upstream.ClusterRole) ? upstream.ClusterRole
        : !string.IsNullOrEmpty(cluster.UpstreamRole) ? cluster.UpstreamRole
        : null;

    /// <summary>One group per distinct role, in a stable order; the region of a role is named after it.</summary>
    public static ImmutableArray<ShardGroup> Plan(SarkOptions options)
    {
        var cluster = options.Cluster;
        return
        [
            .. options.Upstreams.Values
                .GroupBy(u => RoleOf(u, cluster) ?? "", StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new ShardGroup(
                    g.Key.Length == 0 ? DefaultTypeName : $"{DefaultTypeName}-{Uri.EscapeDataString(g.Key)}",
                    g.Key.Length == 0 ? null : g.Key,
                    g.Key.Length == 0 || cluster.Roles.Contains(g.Key),
                    [.. g.Select(u => u.Name).Order(StringComparer.Ordinal)])),
        ];
    }

    /// <summary>
    /// The warning for a node that sees fewer members up than a shard coordinator of
    /// <paramref name="group"/> needs before it places any shard, or null when there are enough.
    /// That minimum is <c>akka.cluster.min-nr-of-members</c> (for a region with a role,
    /// <c>akka.cluster.role.&lt;role&gt;.min-nr-of-members</c>, default 1). The first coordinator
    /// passes it at start; one started again after the oldest node is lost or leaves counts the
    /// regions that register with it afresh, and until enough have, it ignores every request for a
    /// shard home, so the upstreams that must move do not restart (docs/cluster-internals.md).
    /// </summary>
    public static string? CoordinatorStall(ShardGroup group, int membersUp, int minMembers) =>
        membersUp >= minMembers ? null
        : $"Cluster: {membersUp} member(s){(group.Role is null ? "" : $" with role {group.Role}")} up, fewer than the {minMembers} that min-nr-of-members asks for: "
          + $"a shard coordinator of {group.TypeName} that starts now (after the oldest node is lost or leaves) places no shard until {minMembers} nodes have registered, "
          + $"so the upstreams {string.Join(", ", group.Upstreams)} that must move stay unavailable until then. Keep min-nr-of-members at most the number of nodes that survive a loss.";

    /// <summary>Entity id = upstream name; the shard is a hash of it over <c>sark.cluster.shards</c>.</summary>
    internal sealed class Extractor(int shards) : HashCodeMessageExtractor(shards)
    {
        public override string? EntityId(object message) => message is UpstreamCommands.IUpstreamMessage routed ? routed.Upstream : null;
    }
}
