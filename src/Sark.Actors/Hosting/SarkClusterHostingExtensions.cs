using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Sark.Actors.Cluster;
using Sark.Actors.Configuration;

namespace Sark.Actors.Hosting;

/// <summary>Akka.Hosting setup of a Sark node that is a member of a cluster (<c>sark.cluster</c>, docs/cluster.md).</summary>
public static class SarkClusterHostingExtensions
{
    /// <summary>
    /// When <c>sark.cluster.enabled</c>: remoting on <c>hostname:port</c> (and <c>public-hostname</c>),
    /// clustering with the seed nodes and roles, the split-brain resolver (strategy and
    /// <c>stable-after</c>), sharding with remembered entities kept in distributed data (no
    /// persistence plugin, nothing on disk), distributed pub-sub, and the binding of
    /// <see cref="ISarkClusterMessage"/> to <see cref="SarkClusterSerializer"/>. Does nothing
    /// when the cluster is off. Pair it with <c>WithSarkGateway(options)</c> (same options) in an
    /// actor system named <c>sark</c>; <paramref name="configure"/> may adjust the cluster
    /// options (for example <c>MinimumNumberOfMembers</c> or the failure detector) before they apply.
    /// </summary>
    public static AkkaConfigurationBuilder WithSarkCluster(
        this AkkaConfigurationBuilder builder, SarkOptions options, Action<Akka.Cluster.Hosting.ClusterOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cluster = options.Cluster;
        if (!cluster.Enabled)
            return builder;

        builder.WithRemoting(new RemoteOptions
        {
            HostName = cluster.Hostname,
            Port = cluster.Port,
            PublicHostName = string.IsNullOrEmpty(cluster.PublicHostname) ? null : cluster.PublicHostname,
        });
        var clustering = new Akka.Cluster.Hosting.ClusterOptions
        {
            SeedNodes = [.. cluster.SeedNodes],
            Roles = [.. cluster.Roles],
            SplitBrainResolver = SplitBrainResolver(cluster),
        };
        configure?.Invoke(clustering);
        builder.WithClustering(clustering);
        builder.WithDistributedPubSub(role: null!);
        builder.AddHocon(ClusterHocon(cluster), HoconAddMode.Prepend);
        builder.WithCustomSerializer("sark-cluster", [typeof(ISarkClusterMessage)], system => new SarkClusterSerializer(system));
        return builder;
    }

    /// <summary>The resolver's strategy as Akka.Cluster.Hosting options; down-all has none there and is set in HOCON.</summary>
    internal static SplitBrainResolverOption? SplitBrainResolver(Configuration.ClusterOptions cluster) => cluster.SplitBrainStrategy switch
    {
        "keep-majority" => new KeepMajorityOption(),
        "keep-oldest" => new KeepOldestOption { DownIfAlone = true },
        // The quorum is a majority of the seed nodes (at least one); set it in HOCON for another size.
        "static-quorum" => new StaticQuorumOption { QuorumSize = Math.Max(1, (cluster.SeedNodes.Length / 2) + 1) },
        _ => null,
    };

    /// <summary>What the hosting options do not cover: stable-after, down-all, and sharding's stores.</summary>
    internal static string ClusterHocon(Configuration.ClusterOptions cluster)
    {
        var stable = (long)cluster.StableAfter.TotalMilliseconds;
        var downAll = cluster.SplitBrainStrategy == "down-all"
            ? """
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver.active-strategy = down-all
              """
            : "";
        return $$"""
            akka.cluster {
              {{downAll}}
              split-brain-resolver.stable-after = {{stable}}ms
              sharding {
                remember-entities = on
                remember-entities-store = ddata
                state-store-mode = ddata
                # Remembered upstreams are kept in memory, replicated; every node also wakes
                # each configured upstream when it is up, so nothing needs to survive on disk.
                distributed-data.durable.keys = []
              }
            }
            """;
    }
}
