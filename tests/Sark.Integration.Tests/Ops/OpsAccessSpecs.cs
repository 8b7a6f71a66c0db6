using System.Net;
using System.Net.Sockets;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.Ops;

/// <summary>Who may use the console: the token, the bind rule, and a node that cannot be reached.</summary>
public sealed class OpsAccessSpecs
{
    private const string Token = "spec-ops-token-5150";

    [Fact]
    public async Task A_node_with_a_token_refuses_a_missing_or_wrong_one_and_serves_the_right_one()
    {
        await using var node = await NodeProcess.StartAsync(NodeConfigs.Demo() + $$"""

            sark.node.ops { bind = "127.0.0.1:0", token = "{{Token}}" }
            """);
        var address = await OpsNodes.ConsoleAddressAsync(node);
        await DemoNodeFixture.WaitUntilReadyAsync(node);

        var missing = await SarkCli.RunAsync([address, "upstream", "list"]);
        var wrong = await SarkCli.RunAsync([address, "upstream", "list", "--token", "not-the-token"]);
        var byOption = await SarkCli.RunAsync([address, "upstream", "list", "--token", Token, "--json"]);
        var byEnvironment = await SarkCli.RunAsync([address, "upstream", "list"], environment: new Dictionary<string, string> { ["SARK_OPS_TOKEN"] = Token });
        var config = await SarkCli.RunAsync([address, "config", "show", "--path", "sark.node.ops", "--token", Token]);

        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("unauthenticated", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("unauthenticated", wrong.Stderr, StringComparison.Ordinal);
        Assert.Contains("not valid", wrong.Stderr, StringComparison.Ordinal);
        Assert.True(byOption.ExitCode == 0, byOption.ToString());
        Assert.Equal("demo", (string?)byOption.JsonLines.Single()["name"]);
        Assert.True(byEnvironment.ExitCode == 0, byEnvironment.ToString());
        Assert.Contains("demo", byEnvironment.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, config.Stdout, StringComparison.Ordinal);
        Assert.Contains("<redacted>", config.Stdout, StringComparison.Ordinal);
        Assert.Contains(node.Stdout.Lines, l => l.Contains("Ops console: refused a client", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_console_bound_beyond_loopback_without_a_token_keeps_the_node_from_starting()
    {
        var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo() + "\nsark.node.ops.bind = \"0.0.0.0:0\"\n", ["--bind", "127.0.0.1:0"], TimeSpan.FromSeconds(60));

        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("sark.node.ops.bind", exit.StderrText, StringComparison.Ordinal);
        Assert.Contains("token", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_cannot_be_reached_is_exit_code_3_and_the_message_names_the_address()
    {
        var address = $"127.0.0.1:{FreePort()}";

        var table = await SarkCli.RunAsync([address, "upstream", "list"]);
        var json = await SarkCli.RunAsync([address, "upstream", "list", "--json"]);
        var badAddress = await SarkCli.RunAsync(["127.0.0.1:notaport", "upstream", "list"]);

        Assert.Equal(3, table.ExitCode);
        Assert.Contains($"cannot reach the node at {address}", table.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, json.ExitCode);
        Assert.Equal(2, badAddress.ExitCode);
    }

    /// <summary>A loopback port nothing listens on (taken, then released).</summary>
    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>A console port that is taken fails the node's start, as a taken HTTP port does.</summary>
public sealed class OpsBindSpecs
{
    [Fact]
    public async Task A_console_port_in_use_keeps_the_node_from_starting_with_exit_code_1()
    {
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            var port = ((IPEndPoint)taken.LocalEndpoint).Port;
            var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo() + $"\nsark.node.ops.bind = \"127.0.0.1:{port}\"\n", ["--bind", "127.0.0.1:0"], TimeSpan.FromSeconds(60));

            Assert.Equal(1, exit.ExitCode);
            Assert.Contains($"the ops console cannot listen on 127.0.0.1:{port}", exit.StderrText, StringComparison.Ordinal);
        }
        finally
        {
            taken.Stop();
        }
    }
}
