using System.Net;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests.FrontDoor;

/// <summary>Stateless mode (legacy SSE off, as it must be) with the demo upstream and anonymous callers.</summary>
public sealed class FrontDoorStatelessNodeFixture : FrontDoorNodeFixture
{
    protected override string Config => NodeConfigs.Demo() + """

        sark.front-door { stateless = true, legacy-sse.enabled = false }
        """;
}

/// <summary><c>sark.front-door.stateless = true</c>: every request stands alone, no session id, no GET stream, no DELETE, no /sse.</summary>
public sealed class FrontDoorStatelessSpecs(FrontDoorStatelessNodeFixture fixture) : IClassFixture<FrontDoorStatelessNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private Task<McpClient> ConnectAsync(CancellationToken cancellationToken) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions { Endpoint = fixture.Mcp, TransportMode = HttpTransportMode.StreamableHttp }),
            cancellationToken: cancellationToken);

    [Fact]
    public async Task The_csharp_sdk_client_lists_and_calls_without_a_session()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var result = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "stateless" }, cancellationToken: timeout.Token);

        Assert.Null(client.SessionId);
        Assert.Contains(tools, tool => tool.Name == "demo__echo");
        Assert.Equal("Echo: stateless", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
    }

    [Fact]
    public async Task Resources_and_prompts_are_served_next_to_tools_though_a_tools_request_gets_a_server_without_them()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(timeout.Token);

        // Requests take turns, so a trimmed server never answers for a whole one.
        var first = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "one" }, cancellationToken: timeout.Token);
        var resources = await client.ListResourcesAsync(cancellationToken: timeout.Token);
        var templates = await client.ListResourceTemplatesAsync(cancellationToken: timeout.Token);
        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var prompts = await client.ListPromptsAsync(cancellationToken: timeout.Token);
        var second = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "two" }, cancellationToken: timeout.Token);

        Assert.NotNull(client.ServerCapabilities.Resources);
        Assert.NotNull(client.ServerCapabilities.Prompts);
        // The demo server has none of either: what matters is that the node answers these methods.
        Assert.Empty(resources);
        Assert.Empty(templates);
        Assert.Empty(prompts);
        Assert.Contains(tools, tool => tool.Name == "demo__echo");
        Assert.Equal("Echo: one", Assert.IsType<TextContentBlock>(Assert.Single(first.Content)).Text);
        Assert.Equal("Echo: two", Assert.IsType<TextContentBlock>(Assert.Single(second.Content)).Text);
    }

    [Fact]
    public async Task A_tools_call_with_large_arguments_is_read_whole_after_the_peek()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(timeout.Token);
        // Over Kestrel's first read of the body: the peek sees part of it, the SDK reads it all.
        var message = new string('x', 200_000);

        var result = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = message }, cancellationToken: timeout.Token);

        Assert.Equal($"Echo: {message}", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
    }

    [Fact]
    public async Task The_typescript_sdk_client_lists_without_a_session()
    {
        var run = await TsMcpClient.RunAsync("streamable-http", fixture.Mcp, null, "list");

        Assert.Contains(run.Result.GetProperty("tools").EnumerateArray(), tool => tool.GetProperty("name").GetString() == "demo__echo");
    }

    [Fact]
    public async Task Initialize_gives_no_session_id_and_get_delete_and_sse_are_not_served()
    {
        var http = fixture.Node.Http;
        using var initialize = await http.SendAsync(RawMcp.Post(fixture.Mcp, RawMcp.InitializeBody, apiKey: null));
        using var get = await http.GetAsync(fixture.Mcp);
        using var delete = await http.DeleteAsync(fixture.Mcp);
        using var sse = await http.GetAsync(fixture.Sse);

        Assert.Equal(HttpStatusCode.OK, initialize.StatusCode);
        Assert.False(initialize.Headers.Contains("Mcp-Session-Id"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, sse.StatusCode);
    }

    [Fact]
    public async Task Every_request_for_an_unknown_server_is_404_not_found_and_a_known_server_is_served()
    {
        var http = fixture.Node.Http;
        var nobody = new Uri(fixture.Node.BaseAddress, "/servers/nobody/mcp");
        var demo = new Uri(fixture.Node.BaseAddress, "/servers/demo/mcp");

        using var initialize = await http.SendAsync(RawMcp.Post(nobody, RawMcp.InitializeBody, apiKey: null));
        using var list = await http.SendAsync(RawMcp.Post(nobody, RawMcp.ListToolsBody, apiKey: null));
        using var served = await http.SendAsync(RawMcp.Post(demo, RawMcp.ListToolsBody, apiKey: null));

        Assert.Equal(HttpStatusCode.NotFound, initialize.StatusCode);
        Assert.Equal("not_found", await RawMcp.ErrorCodeAsync(initialize));
        Assert.Equal(HttpStatusCode.NotFound, list.StatusCode);
        Assert.Equal("not_found", await RawMcp.ErrorCodeAsync(list));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Contains("\"echo\"", await served.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
