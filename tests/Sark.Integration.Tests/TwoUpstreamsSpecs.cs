using System.Net;
using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// A node with two real stdio upstreams side by side: the demo server and the npm reference
/// server <c>@modelcontextprotocol/server-everything</c>.
/// </summary>
public sealed class TwoUpstreamsSpecs
{
    private static string Config() => $$"""
        sark {
          upstream-defaults { init-timeout = 60s, stop-grace = 1s, kill-grace = 2s, required = true }
          upstreams {
            demo { kind = mcp-stdio, command = [{{NodeConfigs.Quote(NodePaths.Dotnet)}}, {{NodeConfigs.Quote(NodePaths.DemoServerDll)}}] }
            everything { kind = mcp-stdio, command = ["node", {{NodeConfigs.Quote(NodePaths.EverythingScript)}}, "stdio"], call-timeout = 2s }
          }
        }
        """;

    private static string Text(JsonElement invokeBody) =>
        invokeBody.GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString()!;

    [Fact]
    public async Task The_node_serves_the_tools_of_both_upstreams()
    {
        await using var node = await NodeProcess.StartAsync(Config());
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "both upstreams ready");

        var servers = await (await node.Http.GetAsync("/api/v1/servers")).JsonAsync();
        var counts = servers.GetProperty("servers").EnumerateArray()
            .ToDictionary(s => s.GetProperty("server_name").GetString()!, s => s.GetProperty("tools_count").GetInt32());
        Assert.Equal(12, counts["demo"]);
        Assert.Equal(13, counts["everything"]);

        var tools = await (await node.Http.GetAsync("/api/v1/tools?server=everything")).JsonAsync();
        Assert.Equal(13, tools.GetProperty("tools").GetArrayLength());

        using var demoEcho = await node.Http.InvokeAsync(new { server = "demo", tool = "echo", parameters = new { message = "one" } });
        using var everythingEcho = await node.Http.InvokeAsync(new { server = "everything", tool = "echo", parameters = new { message = "two" } });
        Assert.Equal("Echo: one", Text(await demoEcho.JsonAsync()));
        Assert.Equal("Echo: two", Text(await everythingEcho.JsonAsync()));
    }

    [Fact]
    public async Task A_call_past_its_timeout_is_a_504_and_the_upstream_stays_up()
    {
        await using var node = await NodeProcess.StartAsync(Config());
        await Eventually.UntilAsync(() => node.Http.GetAsync("/health/ready"), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "both upstreams ready");

        using var slow = await node.Http.InvokeAsync(new { server = "everything", tool = "trigger-long-running-operation", parameters = new { duration = 20, steps = 2 } });
        await slow.ErrorAsync(HttpStatusCode.GatewayTimeout, "upstream_timeout");

        using var after = await node.Http.InvokeAsync(new { server = "everything", tool = "get-sum", parameters = new { a = 2, b = 3 } });
        Assert.Contains("5", Text(await after.JsonAsync()));
    }
}
