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

    [Fact]
    public async Task The_csharp_sdk_client_lists_and_calls_without_a_session()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var transport = new HttpClientTransport(new HttpClientTransportOptions { Endpoint = fixture.Mcp, TransportMode = HttpTransportMode.StreamableHttp });
        await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
        var result = await client.CallToolAsync("demo__echo", new Dictionary<string, object?> { ["message"] = "stateless" }, cancellationToken: timeout.Token);

        Assert.Null(client.SessionId);
        Assert.Contains(tools, tool => tool.Name == "demo__echo");
        Assert.Equal("Echo: stateless", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
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
}
