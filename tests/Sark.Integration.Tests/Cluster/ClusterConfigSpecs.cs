using System.Net;
using System.Text.Json.Nodes;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Cluster;

/// <summary>A bad cluster setting, in the file or on the command line, stops the node before it starts: exit 2 and the key named.</summary>
public sealed class ClusterConfigSpecs
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("--seed", "127.0.0.1:4053", "sark.cluster.seed-nodes: '127.0.0.1:4053'")]
    [InlineData("--seed", "akka.tcp://other@127.0.0.1:4053", "the actor system is named sark")]
    [InlineData("--cluster-port", "http", "--cluster-port: 'http' is not a port")]
    [InlineData("--cluster-port", "70000", "sark.cluster.port: 70000 is not a port")]
    public async Task A_bad_cluster_option_on_the_command_line_is_a_configuration_error(string option, string value, string message)
    {
        var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo(), ["--bind", "127.0.0.1:0", option, value], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: ", exit.StderrText, StringComparison.Ordinal);
        Assert.Contains(message, exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_split_brain_strategy_in_the_file_names_the_key()
    {
        var exit = await NodeProcess.RunToExitAsync(
            NodeConfigs.Demo() + "\nsark.cluster { enabled = true, split-brain-resolver.active-strategy = keep-everyone }\n", ["--bind", "127.0.0.1:0"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: sark.cluster.split-brain-resolver.active-strategy: 'keep-everyone'", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_seed_option_without_a_value_is_a_configuration_error()
    {
        var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo(), ["--seed"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("--seed needs a value (akka.tcp://sark@HOST:PORT)", exit.StderrText, StringComparison.Ordinal);
    }
}

/// <summary>A clustered node whose seeds never answer runs, but is not ready: it is no member.</summary>
public sealed class ClusterReadinessSpecs
{
    [Fact]
    public async Task A_node_that_cannot_join_is_live_but_not_ready_and_says_why()
    {
        var seed = $"akka.tcp://sark@127.0.0.1:{LoopbackCluster.FreePorts(1)[0]}";
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark.cluster { enabled = true, port = 0, seed-nodes = [{{NodeConfigs.Quote(seed)}}] }
            """);

        var live = await node.Http.GetAsync(new Uri("/health/live", UriKind.Relative));
        var ready = await Eventually.UntilAsync(
            async () => JsonNode.Parse(await (await node.Http.GetAsync(new Uri("/health/ready", UriKind.Relative))).Content.ReadAsStringAsync())!,
            r => r["checks"]?["cluster"] is not null && r["upstreams"]?["demo"]?["state"] is not null,
            TimeSpan.FromSeconds(30), "a readiness answer with the cluster check");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("not_ready", (string?)ready["status"]);
        Assert.Equal("not_joined", (string?)ready["checks"]!["cluster"]!["status"]);
        Assert.True((bool)ready["checks"]!["cluster"]!["blocking"]!);
        Assert.Contains(ready["reasons"]!.AsArray(), r => ((string?)r)!.Contains(seed, StringComparison.Ordinal));
    }
}
