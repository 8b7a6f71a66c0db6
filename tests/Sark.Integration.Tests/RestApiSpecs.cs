using System.Net;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>The gateway REST API of a real node with the demo upstream: servers, tools, upstreams, routes.</summary>
[Collection(DemoNodeCollection.Name)]
public sealed class RestApiSpecs(DemoNodeFixture fixture)
{
    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task Servers_list_shows_the_demo_server_with_its_twelve_tools()
    {
        using var response = await _http.GetAsync("/api/v1/servers");
        var body = await response.JsonAsync();

        var demo = Assert.Single(body.GetProperty("servers").EnumerateArray(), s => s.GetProperty("server_name").GetString() == "demo");
        Assert.Equal(12, demo.GetProperty("tools_count").GetInt32());
        Assert.Equal("healthy", demo.GetProperty("health_status").GetString());
        foreach (var field in new[] { "server_id", "server_url", "sensitivity_level", "authorized_teams" })
            Assert.True(demo.TryGetProperty(field, out _), $"ServerInfo lacks '{field}': {demo}");
        Assert.Equal(1, body.GetProperty("total").GetInt32());
        Assert.False(body.TryGetProperty("next_offset", out _), "next_offset is only present when more servers follow");
    }

    [Fact]
    public async Task Server_by_name_is_the_demo_server()
    {
        using var response = await _http.GetAsync("/api/v1/servers/demo");
        var server = await response.JsonAsync();

        Assert.Equal("demo", server.GetProperty("server_name").GetString());
        Assert.Equal(12, server.GetProperty("tools_count").GetInt32());
    }

    [Fact]
    public async Task Server_by_unknown_name_is_not_found()
    {
        using var response = await _http.GetAsync("/api/v1/servers/no-such-server");
        await response.ErrorAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Tools_of_the_demo_server_are_listed_with_their_schemas()
    {
        using var response = await _http.GetAsync("/api/v1/tools?server=demo");
        var body = await response.JsonAsync();

        var tools = body.GetProperty("tools").EnumerateArray().ToList();
        Assert.Equal(12, tools.Count);
        Assert.Equal(12, body.GetProperty("total").GetInt32());
        var echo = Assert.Single(tools, t => t.GetProperty("tool_name").GetString() == "echo");
        Assert.Equal("demo", echo.GetProperty("server_name").GetString());
        Assert.Equal("object", echo.GetProperty("input_schema").GetProperty("type").GetString());
        Assert.Contains(echo.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "message");
        foreach (var field in new[] { "description", "sensitive_params", "required_capabilities" })
            Assert.True(echo.TryGetProperty(field, out _), $"ToolInfo lacks '{field}': {echo}");
    }

    [Fact]
    public async Task Tools_list_pages_with_offset_limit_and_next_offset()
    {
        using var first = await _http.GetAsync("/api/v1/tools?server=demo&limit=4");
        var page1 = await first.JsonAsync();
        using var last = await _http.GetAsync("/api/v1/tools?server=demo&offset=8&limit=4");
        var page3 = await last.JsonAsync();

        Assert.Equal(4, page1.GetProperty("tools").GetArrayLength());
        Assert.Equal(4, page1.GetProperty("next_offset").GetInt32());
        Assert.Equal(12, page1.GetProperty("total").GetInt32());
        Assert.Equal(4, page3.GetProperty("tools").GetArrayLength());
        Assert.False(page3.TryGetProperty("next_offset", out _), "the last page has no next_offset");
    }

    [Theory]
    [InlineData("limit=-1")]
    [InlineData("limit=ten")]
    [InlineData("offset=-5")]
    [InlineData("offset=1.5")]
    public async Task Paging_with_a_bad_number_is_an_invalid_request(string query)
    {
        using var response = await _http.GetAsync($"/api/v1/servers?{query}");
        await response.ErrorAsync(HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Tools_of_an_unknown_server_are_not_found()
    {
        using var response = await _http.GetAsync("/api/v1/tools?server=no-such-server");
        await response.ErrorAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Upstreams_show_demo_ready_with_a_closed_circuit_and_a_process_id()
    {
        using var response = await _http.GetAsync("/api/v1/upstreams");
        var body = await response.JsonAsync();

        var demo = Assert.Single(body.GetProperty("upstreams").EnumerateArray(), u => u.GetProperty("name").GetString() == "demo");
        Assert.Equal("ready", demo.GetProperty("state").GetString());
        Assert.Equal("closed", demo.GetProperty("breaker").GetString());
        Assert.Equal("mcp-stdio", demo.GetProperty("kind").GetString());
        Assert.Equal(12, demo.GetProperty("tool_count").GetInt32());
        var pid = demo.GetProperty("process_id").GetInt32();
        Assert.True(ProcessTools.IsAlive(pid), $"the demo server's process {pid} should be running");
        foreach (var field in new[] { "restart_count", "consecutive_restarts", "last_error", "last_error_at", "connected_since", "retry_after_ms" })
            Assert.True(demo.TryGetProperty(field, out _), $"upstream status lacks '{field}': {demo}");
    }

    [Fact]
    public async Task Unknown_api_route_is_a_not_found_json_error()
    {
        using var response = await _http.GetAsync("/api/v1/no-such-thing");
        await response.ErrorAsync(HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Wrong_method_on_an_api_route_is_refused_with_a_json_error()
    {
        using var response = await _http.GetAsync("/api/v1/invoke");
        await response.ErrorAsync(HttpStatusCode.MethodNotAllowed, "invalid_request");
    }
}
