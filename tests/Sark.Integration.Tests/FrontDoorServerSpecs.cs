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

    private Task<McpClient> ConnectAsync(string server, HttpTransportMode mode, CancellationToken cancellationToken) =>
        FrontDoorClients.ConnectAsync(fixture.Node, cancellationToken, path: PathOf(server, mode), mode: mode);

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
        await using var client = await ConnectAsync("everything", mode, timeout.Token);
        var updates = new ConcurrentQueue<ProgressNotificationValue>();

        var result = await client.CallToolAsync("trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = 4 },
            new Progress(updates.Enqueue), cancellationToken: timeout.Token);
        // As in FrontDoorRelaySpecs: the SDK client may drop the update its reader hands over just
        // after the answer (FrontDoorTsClientSpecs shows all of them before the answer at this endpoint).
        var seen = await Eventually.UntilAsync(() => Task.FromResult(updates.ToArray()), u => u.Length >= 3, Timeout, "progress updates");
        var resources = await client.ListResourcesAsync(cancellationToken: timeout.Token);
        var read = await client.ReadResourceAsync("demo://resource/dynamic/text/3", cancellationToken: timeout.Token);
        var prompt = await client.GetPromptAsync("simple-prompt", cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }[..seen.Length], seen.Select(u => u.Progress));
        Assert.All(resources, r => Assert.StartsWith("demo://resource/", r.Uri));
        Assert.Equal("demo://resource/dynamic/text/3", Assert.Single(read.Contents).Uri);
        Assert.Single(prompt.Messages);
    }

    [Fact]
    public async Task An_unknown_server_is_an_invalid_params_error()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await FrontDoorClients.ConnectAsync(fixture.Node, timeout.Token, path: "/servers/nobody/mcp");

        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.ListToolsAsync(cancellationToken: timeout.Token).AsTask());

        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
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

    private sealed class Progress(Action<ProgressNotificationValue> report) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => report(value);
    }
}
