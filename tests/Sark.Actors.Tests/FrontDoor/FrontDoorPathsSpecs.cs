using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="FrontDoorPaths"/>: the guard sees as MCP endpoints exactly the paths the router serves.</summary>
public sealed class FrontDoorPathsSpecs
{
    [Theory]
    [InlineData("/mcp", nameof(FrontDoorEndpointKind.Streamable))]
    [InlineData("/MCP/", nameof(FrontDoorEndpointKind.Streamable))]
    [InlineData("/sse", nameof(FrontDoorEndpointKind.LegacySse))]
    [InlineData("/sse/", nameof(FrontDoorEndpointKind.LegacySse))]
    [InlineData("/messages", nameof(FrontDoorEndpointKind.LegacyMessages))]
    [InlineData("/servers/demo/mcp", nameof(FrontDoorEndpointKind.Streamable))]
    [InlineData("/servers/demo/mcp/", nameof(FrontDoorEndpointKind.Streamable))]
    [InlineData("/Servers/My.Server-2/SSE", nameof(FrontDoorEndpointKind.LegacySse))]
    [InlineData("/servers/demo/messages", nameof(FrontDoorEndpointKind.LegacyMessages))]
    [InlineData("/servers//mcp", nameof(FrontDoorEndpointKind.None))]
    [InlineData("/servers/demo", nameof(FrontDoorEndpointKind.None))]
    [InlineData("/servers/demo/tools", nameof(FrontDoorEndpointKind.None))]
    [InlineData("/servers/a/b/mcp", nameof(FrontDoorEndpointKind.None))]
    [InlineData("/mcpx", nameof(FrontDoorEndpointKind.None))]
    [InlineData("/api/v1/servers/demo", nameof(FrontDoorEndpointKind.None))]
    [InlineData("/", nameof(FrontDoorEndpointKind.None))]
    [InlineData("", nameof(FrontDoorEndpointKind.None))]
    [InlineData(null, nameof(FrontDoorEndpointKind.None))]
    public void A_path_is_the_endpoint_the_router_maps_it_to(string? path, string expected) =>
        Assert.Equal(Enum.Parse<FrontDoorEndpointKind>(expected), FrontDoorPaths.Of(path, "/mcp"));

    [Fact]
    public void The_configured_streamable_path_is_used_and_mcp_is_then_nothing()
    {
        Assert.Equal(FrontDoorEndpointKind.Streamable, FrontDoorPaths.Of("/agents/mcp", "/agents/mcp"));
        Assert.Equal(FrontDoorEndpointKind.None, FrontDoorPaths.Of("/mcp", "/agents/mcp"));
    }

    [Theory]
    [InlineData(null, "/sse", "/messages")]
    [InlineData("demo", "/servers/demo/sse", "/servers/demo/messages")]
    [InlineData("a b", "/servers/a%20b/sse", "/servers/a%20b/messages")]
    public void The_legacy_paths_of_the_aggregated_endpoint_and_of_one_server(string? server, string sse, string messages)
    {
        Assert.Equal(sse, FrontDoorPaths.SsePath(server));
        Assert.Equal(messages, FrontDoorPaths.MessagesPath(server));
    }
}
