using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>Start-up and shutdown of the node process: configuration errors, arguments, SIGTERM.</summary>
public sealed class NodeLifecycleSpecs
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Configuration_error_exits_with_code_2_and_names_the_key()
    {
        const string hocon = """sark.upstreams.x { kind = nope, command = ["true"] }""";

        var exit = await NodeProcess.RunToExitAsync(hocon, ["--bind", "127.0.0.1:0"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: sark.upstreams.x.kind", exit.StderrText, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mcp_http_header_with_a_line_break_is_a_configuration_error_naming_the_key()
    {
        const string hocon = """sark.upstreams.remote { kind = mcp-http, url = "http://127.0.0.1:9/mcp", headers { X-Token = "a\r\nX-Injected: 1" } }""";

        var exit = await NodeProcess.RunToExitAsync(hocon, ["--bind", "127.0.0.1:0"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: sark.upstreams.remote.headers.X-Token", exit.StderrText, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.StderrText + string.Join('\n', exit.Stdout), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bind", "not-an-address")]
    [InlineData("--bind", "some-host:80")]
    public async Task Bad_bind_address_is_a_configuration_error(string option, string value)
    {
        var exit = await NodeProcess.RunToExitAsync(NodeConfigs.Demo(), [option, value], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("sark: configuration error: --bind", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_argument_prints_the_usage_and_exits_with_code_2()
    {
        var exit = await NodeProcess.RunToExitAsync(hocon: null, ["--frobnicate"], ExitTimeout);

        Assert.True(exit.ExitCode == 2, exit.ToString());
        Assert.Contains("--frobnicate", exit.StderrText, StringComparison.Ordinal);
        Assert.Contains("usage:", exit.StderrText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_stops_the_node_cleanly_and_leaves_no_demo_server_running()
    {
        // No --config: the bundled sark.conf runs the demo server from the node's own folder.
        var node = await NodeProcess.StartAsync(hocon: null);
        await using (node)
        {
            await DemoNodeFixture.WaitUntilReadyAsync(node);
            using var response = await node.Http.GetAsync("/api/v1/upstreams");
            var body = await response.JsonAsync();
            var demo = Assert.Single(body.GetProperty("upstreams").EnumerateArray());
            Assert.Equal(JsonValueKind.Number, demo.GetProperty("process_id").ValueKind);
            var demoPid = demo.GetProperty("process_id").GetInt32();
            Assert.True(ProcessTools.IsAlive(demoPid));

            var exitCode = await node.StopAsync();

            Assert.True(exitCode == 0, $"exit code {exitCode}\n{node.Describe()}");
            var left = await ProcessTools.WaitUntilGoneAsync([demoPid], TimeSpan.FromSeconds(10));
            Assert.True(left.Count == 0, $"the demo server (pid {demoPid}) is still running after the node stopped\n{node.Describe()}");
        }
    }
}
