using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>The MCP front door (<c>/mcp</c>) of a real node with the demo upstream, through the official C# SDK client.</summary>
[Collection(DemoNodeCollection.Name)]
public sealed class FrontDoorSpecs(DemoNodeFixture fixture)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_mcp_client_lists_the_demo_tools_namespaced_and_calls_echo()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(fixture.Node.BaseAddress, "/mcp") });
        await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        Assert.Contains(tools, tool => tool.Name == "demo__echo");

        var result = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "hi" }, cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content));
        Assert.Equal("Echo: hi", text.Text);
    }

    [Theory]
    [InlineData("demo__no-such-tool")]
    [InlineData("no-such-server__echo")]
    [InlineData("echo")]
    public async Task Calling_an_unknown_tool_is_a_json_rpc_invalid_params_error(string name)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(fixture.Node.BaseAddress, "/mcp") });
        await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);

        var ex = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(
            () => client.CallToolAsync(name, new Dictionary<string, object?> { ["message"] = "hi" }, cancellationToken: timeout.Token).AsTask());

        Assert.Equal(ModelContextProtocol.McpErrorCode.InvalidParams, ex.ErrorCode);
    }
}
