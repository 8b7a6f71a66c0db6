using Akka.Hosting;
using Sark.Actors.Configuration;
using Sark.Actors.Hosting;

namespace Sark.Host.Cluster;

/// <summary>
/// Makes the node's actor system (<c>sark</c>) a cluster member when <c>sark.cluster.enabled</c>
/// (<see cref="SarkClusterHostingExtensions.WithSarkCluster"/>: remoting, seed nodes, roles, the
/// split-brain resolver, sharding), then puts the <c>akka { }</c> block of the node's
/// configuration file, when it has one, over everything (failure detector, quorum size, ...).
/// </summary>
internal static class NodeCluster
{
    public static AkkaConfigurationBuilder WithNodeCluster(this AkkaConfigurationBuilder akka, SarkOptions options, Akka.Configuration.Config? file)
    {
        akka.WithSarkCluster(options);

        // Last and in front: the operator's own akka settings win over what the node derived.
        if (file is not null && file.HasPath("akka"))
            akka.AddHocon(Akka.Configuration.ConfigurationFactory.ParseString("akka " + file.GetConfig("akka").Root), HoconAddMode.Prepend);
        return akka;
    }
}
