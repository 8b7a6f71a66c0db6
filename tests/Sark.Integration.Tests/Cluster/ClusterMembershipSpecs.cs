using System.Net;
using System.Text.Json.Nodes;
using Sark.Integration.Tests.Infrastructure;
using Sark.Integration.Tests.Ops;
using Xunit.Abstractions;

namespace Sark.Integration.Tests.Cluster;

/// <summary>
/// Three node processes form one Akka.Cluster (readiness says so), lose one to <c>kill -9</c>
/// (the split-brain resolver downs it and the two others go on), take it back when it restarts,
/// and go on without the oldest member (the shard coordinator's node) when it is killed. Every
/// membership check is the real <c>sark</c> client's <c>cluster show</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterMembershipSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_nodes_form_a_cluster_lose_a_killed_node_take_it_back_and_survive_the_loss_of_the_oldest()
    {
        await using var cluster = await LoopbackCluster.StartAsync(NodeConfigs.DemoUpstream());

        var formed = await cluster.UntilMembersUpAsync(0, 0, 1, 2);
        Assert.Single(formed, r => (bool?)r["self"] == true && (string?)r["address"] == cluster.Address(0));
        Assert.Single(formed, r => (bool?)r["leader"] == true);
        await cluster.UntilMembersUpAsync(2, 0, 1, 2);
        await cluster.UntilMembersUpAsync(1, 0, 1, 2);
        var table = await SarkCli.RunAsync([cluster.Ops(1), "cluster", "show"]);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.True(table.Stdout.Contains("3 members, 3 up, 0 unreachable", StringComparison.Ordinal), table.ToString());
        Assert.Contains(cluster.Address(2), table.Stdout, StringComparison.Ordinal);

        var ready = await cluster.Node(0).Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        var check = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!["checks"]!["cluster"]!;
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ok", (string?)check["status"]);
        Assert.Equal(cluster.Address(0), (string?)check["address"]);
        Assert.Equal(3, (int?)check["members"]);

        var unknown = await SarkCli.RunAsync([cluster.Ops(0), "cluster", "down", "akka.tcp://sark@127.0.0.1:1", "--json"]);
        var bad = await SarkCli.RunAsync([cluster.Ops(0), "cluster", "leave", "127.0.0.1:1"]);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("not_found", (string?)unknown.JsonLines.Single()["error"]!["code"]);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("invalid_request", bad.Stderr, StringComparison.Ordinal);

        var downed = await LoopbackCluster.TimeAsync(async () =>
        {
            await cluster.KillAsync(2);
            await cluster.UntilMembersUpAsync(0, 0, 1);
        });
        await cluster.UntilMembersUpAsync(1, 0, 1);
        output.WriteLine($"node 3 killed: the survivors saw 2 members after {downed.TotalSeconds:0.0}s");

        var rejoined = await LoopbackCluster.TimeAsync(async () =>
        {
            await cluster.StartNodeAsync(2);
            await cluster.UntilMembersUpAsync(0, 0, 1, 2);
        });
        await cluster.UntilMembersUpAsync(2, 0, 1, 2);
        output.WriteLine($"node 3 restarted: 3 members up after {rejoined.TotalSeconds:0.0}s");

        // The oldest member (node 1, the shard coordinator's home) killed: the other two go on,
        // and the upstream it hosted (if any) runs again on one of them.
        var hosts = await cluster.UntilHostedAsync(1, ["demo"]);
        if (hosts["demo"] == 0)
        {
            var (handOver, refusals) = await cluster.KillAndCallUntilServedAsync(0, 1, "demo", TimeSpan.FromSeconds(30));
            output.WriteLine($"oldest node 1 killed: demo (hosted there) served again through node 2 after {handOver.TotalSeconds:0.0}s ({refusals})");
        }
        else
        {
            await cluster.KillAsync(0);
            output.WriteLine($"oldest node 1 killed (demo runs on node {hosts["demo"] + 1})");
        }

        await cluster.UntilMembersUpAsync(1, 1, 2);
        await cluster.UntilMembersUpAsync(2, 1, 2);
        var served = await LoopbackCluster.TimeAsync(() => Eventually.UntilAsync(
            () => cluster.CallAsync(2, "demo", "after the oldest"), c => c.Ok, LoopbackCluster.MembershipTimeout, "a call of demo through node 3 after the oldest node was lost"));
        output.WriteLine($"then through node 3: served within {served.TotalSeconds:0.0}s");
    }
}

/// <summary>Cluster specs start three nodes each: they run one at a time, apart from every other collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster";
}
