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

    /// <summary>Entity id = upstream name; the shard is a hash of it over <c>sark.cluster.shards</c>.</summary>
    internal sealed class Extractor(int shards) : HashCodeMessageExtractor(shards)
    {
        public override string? EntityId(object message) => message is UpstreamCommands.IUpstreamMessage routed ? routed.Upstream : null;
    }
}
