using Sark.Actors.Configuration;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Cluster;

/// <summary>The example three-node configuration in <c>hocon/cluster/</c> reads as documented.</summary>
public sealed class ClusterExampleSpecs
{
    [Fact]
    public void The_example_cluster_configuration_names_three_seeds_keep_majority_and_postgres()
    {
        var text = File.ReadAllText(Path.Combine(NodePaths.RepoRoot, "hocon", "cluster", "cluster.conf"));
        var options = SarkConfigLoader.Parse(text + "\nsark.audit.postgres.connection-string = \"Host=127.0.0.1;Database=sark\"\n");

        Assert.True(options.Cluster.Enabled);
        Assert.Equal(["akka.tcp://sark@127.0.0.1:4053", "akka.tcp://sark@127.0.0.1:4054", "akka.tcp://sark@127.0.0.1:4055"], options.Cluster.SeedNodes.AsEnumerable());
        Assert.Equal("keep-majority", options.Cluster.SplitBrainStrategy);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Cluster.StableAfter);
        Assert.Equal(["demo-a", "demo-b", "demo-c"], options.Upstreams.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("postgres", options.Audit!.Store.ToString().ToLowerInvariant());
    }
}
