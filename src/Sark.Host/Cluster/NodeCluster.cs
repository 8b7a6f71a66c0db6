using System.Globalization;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;

namespace Sark.Host.Cluster;

/// <summary>
/// Makes the node's actor system (<c>sark</c>) a cluster member when <c>sark.cluster.enabled</c>:
/// Akka.Remote on <c>hostname:port</c>, Akka.Cluster with the seed nodes and roles, and the
/// split-brain resolver with its strategy and <c>stable-after</c>. Then the <c>akka { }</c> block
/// of the node's configuration file, when it has one, over all of it (failure detector,
/// <c>static-quorum.quorum-size</c>, ...).
/// </summary>
internal static class NodeCluster
{
    /// <summary>The provider of Akka's split-brain resolver.</summary>
    private const string DowningProvider = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster";

    public static AkkaConfigurationBuilder WithNodeCluster(this AkkaConfigurationBuilder akka, Sark.Actors.Configuration.ClusterOptions cluster, Akka.Configuration.Config? file)
    {
        if (cluster.Enabled)
        {
            akka.WithRemoting(new RemoteOptions
            {
                HostName = cluster.Hostname,
                Port = cluster.Port,
                PublicHostName = cluster.PublicHostname.Length > 0 ? cluster.PublicHostname : null,
            });
            akka.WithClustering(new ClusterOptions
            {
                SeedNodes = [.. cluster.SeedNodes],
                Roles = [.. cluster.Roles],
                SplitBrainResolver = cluster.SplitBrainStrategy switch
                {
                    "keep-oldest" => new KeepOldestOption(),
                    "static-quorum" => new StaticQuorumOption(),
                    "down-all" => null,
                    _ => new KeepMajorityOption(),
                },
            });
            akka.AddHocon(ResolverHocon(cluster), HoconAddMode.Prepend);
        }

        // Last and in front: the operator's own akka settings win over what the node derived.
        if (file is not null && file.HasPath("akka"))
            akka.AddHocon(Akka.Configuration.ConfigurationFactory.ParseString("akka " + file.GetConfig("akka").Root), HoconAddMode.Prepend);
        return akka;
    }

    /// <summary>The resolver's strategy and its stable-after (Akka.Cluster.Hosting sets neither <c>down-all</c> nor the time).</summary>
    internal static string ResolverHocon(Sark.Actors.Configuration.ClusterOptions cluster) =>
        $$"""
        akka.cluster.downing-provider-class = "{{DowningProvider}}"
        akka.cluster.split-brain-resolver {
          active-strategy = {{cluster.SplitBrainStrategy}}
          stable-after = {{((long)cluster.StableAfter.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)}}ms
        }
        """;
}
