using System.Collections.Concurrent;
using System.Net;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.FrontDoor;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// One upstream, unprefixed (issue 7, item 5), through the official C# SDK client: at
/// <c>/servers/{name}/mcp</c> (Streamable HTTP) and at its legacy pair <c>/servers/{name}/sse</c>
/// + <c>/servers/{name}/messages</c>.
/// </summary>
public sealed class FrontDoorServerSpecs(RelayNodeFixture fixture) : IClassFixture<RelayNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The endpoint of one server over <paramref name="mode"/>.</summary>
    internal static string PathOf(string server, HttpTransportMode mode) => $"/servers/{server}/{(mode == HttpTransportMode.Sse ? "sse" : "mcp")}";

    private Task<McpClient> ConnectAsync(string server, HttpTransportMode mode, CancellationToken cancellationToken, McpClientOptions? options = null) =>
        FrontDoorClients.ConnectAsync(fixture.Node, cancellationToken, options, path: PathOf(server, mode), mode: mode);

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task One_server_is_served_with_its_own_tool_names_and_nothing_of_the_others(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var everything = await ConnectAsync("everything", mode, timeout.Token);
        await using var demo = await ConnectAsync("demo", mode, timeout.Token);

        var everythingTools = (await everything.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();
        var demoTools = (await demo.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();

        Assert.Contains("trigger-long-running-operation", everythingTools);
        Assert.DoesNotContain("slow", everythingTools);
        Assert.Contains("slow", demoTools);
        Assert.DoesNotContain(demoTools, n => n.Contains("__", StringComparison.Ordinal));
        var echo = await demo.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "one" }, cancellationToken: timeout.Token);
        Assert.Equal("Echo: one", Assert.IsType<TextContentBlock>(echo.Content[0]).Text);
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task Progress_resources_and_prompts_keep_the_upstreams_own_names(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var progress = new SessionProgress();
        await using var client = await ConnectAsync("everything", mode, timeout.Token, progress.Options);

        var result = await client.CallToolAsync("trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = 4 },
            options: progress.NewCall(), cancellationToken: timeout.Token);
        // All four, under the caller's token: see SessionProgress for why not the SDK's IProgress.
        var updates = await progress.WaitForAsync(4, Timeout);
        var resources = await client.ListResourcesAsync(cancellationToken: timeout.Token);
        var read = await client.ReadResourceAsync("demo://resource/dynamic/text/3", cancellationToken: timeout.Token);
        var prompt = await client.GetPromptAsync("simple-prompt", cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        SessionProgress.AssertAllFour(updates, progress.Token);
        Assert.All(resources, r => Assert.StartsWith("demo://resource/", r.Uri));
        Assert.Equal("demo://resource/dynamic/text/3", Assert.Single(read.Contents).Uri);
        Assert.Single(prompt.Messages);
    }

    [Fact]
    public async Task An_unknown_server_is_404_not_found_at_the_streamable_endpoint_before_any_session_opens()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var http = fixture.Node.Http;
        var nobody = new Uri(fixture.Node.BaseAddress, "/servers/nobody/mcp");
        using var getRequest = new HttpRequestMessage(HttpMethod.Get, nobody);
        getRequest.Headers.Accept.ParseAdd("text/event-stream");

        using var initialize = await http.SendAsync(RawMcp.Post(nobody, RawMcp.InitializeBody, apiKey: null), timeout.Token);
        // What a stateless client sends: a request without initialize and without a session.
        using var list = await http.SendAsync(RawMcp.Post(nobody, RawMcp.ListToolsBody, apiKey: null), timeout.Token);
        using var get = await http.SendAsync(getRequest, timeout.Token);

        foreach (var response in new[] { initialize, list, get })
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.False(response.Headers.Contains("Mcp-Session-Id"));
            Assert.Equal("not_found", await RawMcp.ErrorCodeAsync(response));
        }

        Assert.Contains("nobody", await initialize.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sdk_client_fails_to_connect_to_an_unknown_server_with_the_404_in_its_error()
    {
        using var timeout = new CancellationTokenSource(Timeout);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync("nobody", HttpTransportMode.StreamableHttp, timeout.Token));

        Assert.False(timeout.IsCancellationRequested, "the client gave up on its own, not on the spec's timeout");
        var http = Assert.IsType<HttpRequestException>(ex.GetBaseException());
        Assert.Equal(HttpStatusCode.NotFound, http.StatusCode);
        Assert.Contains("not_found", http.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_of_a_known_server_opens_and_its_requests_are_served()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var http = fixture.Node.Http;
        var demo = new Uri(fixture.Node.BaseAddress, "/servers/demo/mcp");

        var id = await RawMcp.OpenSessionAsync(http, demo, apiKey: null, timeout.Token);
        using var list = await http.SendAsync(RawMcp.Post(demo, RawMcp.ListToolsBody, apiKey: null, sessionId: id), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Contains("\"echo\"", await list.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
        await RawMcp.DeleteSessionAsync(http, demo, apiKey: null, id, timeout.Token);
    }

    [Fact]
    public async Task A_tool_whose_name_does_not_fit_is_left_out_logged_once_and_counted_by_server()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var all = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token);
        await using var demo = await ConnectAsync("demo", HttpTransportMode.StreamableHttp, timeout.Token);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        // 125 characters: a name of its own, but 131 as demo__<name> (MCP allows 128).
        var tooLong = ("long_" + suffix + "_").PadRight(125, 'x');
        var badName = "bad name " + suffix;
        foreach (var name in new[] { badName, tooLong })
        {
            var added = await all.CallToolAsync("demo__add_tool", new Dictionary<string, object?> { ["name"] = name }, cancellationToken: timeout.Token);
            Assert.NotEqual(true, added.IsError);
        }

        // The catalog takes the demo server's list_changed; badName was added first, so it is in by then too.
        await Eventually.UntilAsync(async () => (await demo.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToArray(),
            names => names.Contains(tooLong), Timeout, "the long tool reaching the catalog");
        var aggregated = new List<string>();
        var own = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            aggregated.AddRange((await all.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name));
            own.AddRange((await demo.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name));
        }

        Assert.Contains("demo__echo", aggregated);
        Assert.DoesNotContain(aggregated, n => n.Contains(suffix, StringComparison.Ordinal));
        Assert.Contains(tooLong, own);
        Assert.DoesNotContain(badName, own);
        await RawMcp.WaitForGaugeAsync(fixture.Node.Http, "sark_frontdoor_tools_hidden_total", 2, Timeout, label: "server=\"demo\"");
        var logged = await Eventually.UntilAsync(
            () => Task.FromResult(fixture.Node.Stdout.Lines.Where(l => l.Contains("is left out of tools/list", StringComparison.Ordinal)).ToArray()),
            lines => lines.Length >= 2, Timeout, "the warnings of both tools");
        Assert.Single(logged, l => l.Contains(tooLong, StringComparison.Ordinal) && l.Contains("/servers/demo/mcp", StringComparison.Ordinal));
        Assert.Single(logged, l => l.Contains(badName, StringComparison.Ordinal) && l.Contains("character outside", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_server_is_404_at_the_legacy_stream_with_the_deprecation_headers()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var stream = await SseReader.OpenLegacyAsync(fixture.Node.Http, new Uri(fixture.Node.BaseAddress, "/servers/nobody/sse"), apiKey: null, timeout.Token);

        Assert.Equal(HttpStatusCode.NotFound, stream.Response.StatusCode);
        Assert.True(stream.Response.Headers.Contains("Deprecation"));
        Assert.Equal("not_found", await stream.ErrorCodeAsync(timeout.Token));
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync("nobody", HttpTransportMode.Sse, timeout.Token));
    }
}
