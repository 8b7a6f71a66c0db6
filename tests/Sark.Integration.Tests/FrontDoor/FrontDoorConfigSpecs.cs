using System.Net;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>The front door at <c>/agents</c> with <c>.</c> as separator, legacy SSE off.</summary>
public sealed class FrontDoorCustomPathNodeFixture : FrontDoorNodeFixture
{
    protected override string Config => NodeConfigs.Demo() + """

        sark.front-door { path = "/agents", separator = ".", legacy-sse.enabled = false }
        """;
}

/// <summary>A node whose front door is configured away from its defaults.</summary>
public sealed class FrontDoorCustomPathSpecs(FrontDoorCustomPathNodeFixture fixture) : IClassFixture<FrontDoorCustomPathNodeFixture>
{
    [Fact]
    public async Task The_front_door_is_served_at_the_configured_path_with_the_configured_separator()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(fixture.Node.BaseAddress, "/agents") });
        await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var result = await client.CallToolAsync("demo.echo", new Dictionary<string, object?> { ["message"] = "dot" }, cancellationToken: timeout.Token);

        Assert.Contains(tools, tool => tool.Name == "demo.echo");
        Assert.Equal("Echo: dot", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
    }

    [Theory]
    [InlineData("/mcp")]
    [InlineData("/sse")]
    [InlineData("/messages?sessionId=x")]
    public async Task The_default_path_and_the_disabled_legacy_endpoints_are_not_served(string path)
    {
        using var response = await fixture.Node.Http.SendAsync(RawMcp.Post(new Uri(fixture.Node.BaseAddress, path), RawMcp.InitializeBody, apiKey: null));

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed });
        Assert.Contains(await RawMcp.ErrorCodeAsync(response), new[] { "not_found", "invalid_request" });
    }
}

/// <summary>A node with <c>sark.front-door.enabled = false</c> and no upstream.</summary>
public sealed class FrontDoorDisabledNodeFixture : FrontDoorNodeFixture
{
    protected override string Config => "sark.node.shutdown-drain = 2s\nsark.front-door.enabled = false\n";
}

/// <summary>With the front door off, none of its endpoints exists, and nothing checks Host on them.</summary>
public sealed class FrontDoorDisabledSpecs(FrontDoorDisabledNodeFixture fixture) : IClassFixture<FrontDoorDisabledNodeFixture>
{
    [Theory]
    [InlineData("/mcp")]
    [InlineData("/sse")]
    [InlineData("/messages?sessionId=x")]
    public async Task No_mcp_endpoint_is_served(string path)
    {
        using var request = RawMcp.Post(new Uri(fixture.Node.BaseAddress, path), RawMcp.InitializeBody, apiKey: null);
        request.Headers.Host = "rebound.evil.example";

        using var response = await fixture.Node.Http.SendAsync(request);

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed });
    }
}
