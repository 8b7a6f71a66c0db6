using System.Collections.Immutable;
using System.Text.Json;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Sark.Actors;
using Sark.Actors.Configuration;
using Sark.Actors.Errors;
using Sark.Actors.Hosting;
using Sark.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sark.Integration.Tests;

/// <summary>
/// The stdio upstream against the npm reference server, <c>@modelcontextprotocol/server-everything</c>,
/// run as a real process (installed into tests/peers by the test command).
/// </summary>
public sealed class ServerEverythingStdioSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.loglevel = INFO"), output: output)
{
    private async Task<ISarkGateway> StartAsync(TimeSpan? callTimeout = null)
    {
        var upstream = new UpstreamOptions
        {
            Name = "everything",
            Kind = UpstreamKind.McpStdio,
            Command = ["node", NodePaths.EverythingScript, "stdio"],
            CallTimeout = callTimeout ?? TimeSpan.FromSeconds(30),
            StopGrace = TimeSpan.FromSeconds(1),
            KillGrace = TimeSpan.FromSeconds(1),
        };
        var options = new SarkOptions { Upstreams = ImmutableDictionary<string, UpstreamOptions>.Empty.Add("everything", upstream) };
        var (_, gateway) = SarkRuntime.Start(Sys, options);
        await AwaitAssertAsync(async () =>
            Assert.Equal(UpstreamState.Ready, (await gateway.GetUpstreamsAsync()).Single().State), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        return gateway;
    }

    private static JsonElement Args(string json) => JsonDocument.Parse(json).RootElement;

    [Fact]
    public async Task Server_everything_lists_its_13_tools()
    {
        var gateway = await StartAsync();

        var tools = await gateway.ListToolsAsync("everything");

        Assert.Equal(13, tools.Count);
        Assert.Contains(tools, t => t.ToolName == "get-sum" && t.Parameters.Select(p => p.Name).SequenceEqual(["a", "b"]));
    }

    [Fact]
    public async Task Server_everything_answers_echo_and_get_sum()
    {
        var gateway = await StartAsync();

        var echo = await gateway.InvokeToolAsync("everything", "echo", Args("""{"message":"hi"}"""));
        var sum = await gateway.InvokeToolAsync("everything", "get-sum", Args("""{"a":2,"b":3}"""));

        Assert.Equal("Echo: hi", echo.Result.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Contains("5", sum.Result.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_long_running_call_past_its_timeout_is_upstream_timeout()
    {
        var gateway = await StartAsync();

        var ex = await Assert.ThrowsAsync<UpstreamTimeoutException>(() => gateway.InvokeToolAsync(
            "everything", "trigger-long-running-operation", Args("""{"duration":30,"steps":3}"""),
            new InvokeOptions { Timeout = TimeSpan.FromMilliseconds(500) }));

        Assert.Equal(SarkErrorCode.UpstreamTimeout, ex.Code);
        // The connection is still good after the cancellation.
        var echo = await gateway.InvokeToolAsync("everything", "echo", Args("""{"message":"after"}"""));
        Assert.False(echo.IsError);
    }
}
