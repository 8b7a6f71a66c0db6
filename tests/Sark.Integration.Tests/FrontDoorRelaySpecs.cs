using System.Collections.Concurrent;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Sark.Integration.Tests.FrontDoor;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>A node with two stdio upstreams: the demo server (<c>demo</c>) and server-everything (<c>everything</c>).</summary>
public sealed class RelayNodeFixture : IAsyncLifetime
{
    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public static string Config => $$"""
        sark {
          node.shutdown-drain = 2s
          {{NodeConfigs.DemoUpstream()}}
          {{NodeConfigs.EverythingUpstream()}}
        }
        """;

    public async Task InitializeAsync()
    {
        _node = await NodeProcess.StartAsync(Config);
        await DemoNodeFixture.WaitUntilReadyAsync(_node);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync();
    }
}

/// <summary>
/// The relays of the MCP front door (issue 7, item 3) through the official C# SDK client against a
/// real node: aggregation of two upstreams, progress, cancellation and list_changed.
/// </summary>
public sealed class FrontDoorRelaySpecs(RelayNodeFixture fixture) : IClassFixture<RelayNodeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private async Task<McpClient> ConnectAsync(HttpTransportMode mode, CancellationToken cancellationToken, McpClientOptions? options = null) =>
        await FrontDoorClients.ConnectAsync(fixture.Node, cancellationToken, options, path: mode == HttpTransportMode.Sse ? "/sse" : "/mcp", mode: mode);

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task The_tools_of_both_upstreams_are_listed_namespaced_and_echo_answers_on_both(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(mode, timeout.Token);

        var names = (await client.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).ToHashSet();

        Assert.Contains("demo__echo", names);
        Assert.Contains("demo__slow", names);
        Assert.Contains("everything__echo", names);
        Assert.Contains("everything__trigger-long-running-operation", names);
        foreach (var name in new[] { "demo__echo", "everything__echo" })
        {
            var result = await client.CallToolAsync(name, new Dictionary<string, object?> { ["message"] = "both" }, cancellationToken: timeout.Token);
            Assert.NotEqual(true, result.IsError);
            Assert.Equal("Echo: both", Assert.IsType<TextContentBlock>(result.Content[0]).Text);
        }
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task Progress_of_a_long_running_upstream_call_reaches_the_caller_under_its_own_token(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(mode, timeout.Token);
        var progress = new Collector();

        var result = await client.CallToolAsync(
            "everything__trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = 4 },
            progress, cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        // The SDK client reports only notifications that carry the token it sent, and it stops
        // listening for them once the answer is in: an update that its reader hands over just
        // after the answer is dropped on the client's side (the node sends all four before the
        // answer: The_node_writes_every_progress_update_before_the_answer checks the wire).
        var updates = await Eventually.UntilAsync(() => Task.FromResult(progress.Updates.ToArray()), u => u.Length >= 3, Timeout, "progress updates");
        // The SDK client hands each incoming message to its handler on a task of its own, so two
        // updates that arrive together may be reported out of order; the wire order is checked
        // by The_node_writes_every_progress_update_before_the_answer (raw SSE) and the TS client.
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }[..updates.Length], updates.Select(u => u.Progress).Order());
        Assert.All(updates, u => Assert.Equal(4f, u.Total));
    }

    [Fact]
    public async Task The_node_writes_every_progress_update_before_the_answer()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var http = fixture.Node.Http;
        var mcp = new Uri(fixture.Node.BaseAddress, "/mcp");
        var sessionId = await RawMcp.OpenSessionAsync(http, mcp, apiKey: null, timeout.Token);
        const string Call = """{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"everything__trigger-long-running-operation","arguments":{"duration":1,"steps":4},"_meta":{"progressToken":"caller-token"}}}""";

        using var post = await http.SendAsync(RawMcp.Post(mcp, Call, apiKey: null, sessionId), timeout.Token);
        var events = (await post.Content.ReadAsStringAsync(timeout.Token)).Split('\n')
            .Where(line => line.StartsWith("data: ", StringComparison.Ordinal))
            .Select(line => JsonDocument.Parse(line["data: ".Length..]).RootElement)
            .ToArray();

        var progress = events.Where(e => e.TryGetProperty("method", out var m) && m.GetString() == NotificationMethods.ProgressNotification).ToArray();
        Assert.Equal([1.0, 2.0, 3.0, 4.0], progress.Select(e => e.GetProperty("params").GetProperty("progress").GetDouble()));
        Assert.All(progress, e => Assert.Equal("caller-token", e.GetProperty("params").GetProperty("progressToken").GetString()));
        Assert.True(events[^1].TryGetProperty("result", out _), "the answer comes last");
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task A_downstream_cancellation_cancels_the_slow_call_on_the_demo_server(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var client = await ConnectAsync(mode, timeout.Token);
        var before = await DemoStatsAsync(client, timeout.Token);

        // A request id of our own, so that notifications/cancelled can name it. (The SDK client
        // sends none by itself while a Streamable HTTP answer is still streaming; and a dropped
        // POST is not a cancellation in MCP.)
        var id = new RequestId($"cancel-me-{Guid.NewGuid():N}");
        var call = client.SendRequestAsync(new JsonRpcRequest
        {
            Id = id,
            Method = RequestMethods.ToolsCall,
            Params = JsonSerializer.SerializeToNode(
                new CallToolRequestParams { Name = "demo__slow", Arguments = new Dictionary<string, JsonElement> { ["ms"] = JsonSerializer.SerializeToElement(30_000) } },
                McpJsonUtilities.DefaultOptions),
        }, timeout.Token);
        await Eventually.UntilAsync(() => DemoStatsAsync(client, timeout.Token), s => s.Slow > before.Slow, Timeout, "the slow call reaching the demo server");

        await client.SendMessageAsync(new JsonRpcNotification
        {
            Method = NotificationMethods.CancelledNotification,
            Params = JsonSerializer.SerializeToNode(new CancelledNotificationParams { RequestId = id, Reason = "spec" }, McpJsonUtilities.DefaultOptions),
        }, timeout.Token);

        var after = await Eventually.UntilAsync(() => DemoStatsAsync(client, timeout.Token), s => s.Cancellations > before.Cancellations, Timeout,
            "the demo server seeing notifications/cancelled");
        Assert.Equal(before.Cancellations + 1, after.Cancellations);
        Assert.False(call.IsCompletedSuccessfully, "a cancelled request gets no result");
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task A_client_that_goes_away_mid_call_has_its_upstream_call_cancelled(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var observer = await ConnectAsync(mode, timeout.Token);
        var before = await DemoStatsAsync(observer, timeout.Token);

        var leaving = await ConnectAsync(mode, timeout.Token);
        var call = leaving.CallToolAsync("demo__slow", new Dictionary<string, object?> { ["ms"] = 30_000 }, cancellationToken: timeout.Token).AsTask();
        await Eventually.UntilAsync(() => DemoStatsAsync(observer, timeout.Token), s => s.Slow > before.Slow, Timeout, "the slow call reaching the demo server");
        await leaving.DisposeAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => call);
        await Eventually.UntilAsync(() => DemoStatsAsync(observer, timeout.Token), s => s.Cancellations > before.Cancellations, Timeout,
            "the demo server seeing the call cancelled after its caller left");
    }

    [Theory]
    [InlineData(HttpTransportMode.StreamableHttp)]
    [InlineData(HttpTransportMode.Sse)]
    public async Task A_new_upstream_tool_sends_list_changed_to_the_session_and_then_is_listed(HttpTransportMode mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = await ConnectAsync(mode, timeout.Token, new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers =
                [
                    new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                    {
                        changed.TrySetResult();
                        return ValueTask.CompletedTask;
                    }),
                ],
            },
        });
        Assert.True(client.ServerCapabilities.Tools?.ListChanged, "the front door announces tools.listChanged");
        var name = $"added_{Guid.NewGuid():N}"[..20];

        var added = await client.CallToolAsync("demo__add_tool", new Dictionary<string, object?> { ["name"] = name }, cancellationToken: timeout.Token);
        Assert.NotEqual(true, added.IsError);

        await changed.Task.WaitAsync(timeout.Token);
        var names = (await client.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name);
        Assert.Contains($"demo__{name}", names);
    }

    private static async Task<DemoStats> DemoStatsAsync(McpClient client, CancellationToken cancellationToken)
    {
        var result = await client.CallToolAsync("demo__stats", new Dictionary<string, object?>(), cancellationToken: cancellationToken);
        using var json = JsonDocument.Parse(Assert.IsType<TextContentBlock>(result.Content[0]).Text);
        var root = json.RootElement;
        var slow = root.GetProperty("calls").TryGetProperty("slow", out var s) ? s.GetInt32() : 0;
        return new DemoStats(root.GetProperty("pid").GetInt32(), slow, root.GetProperty("cancellations").GetInt32());
    }

    internal sealed record DemoStats(int Pid, int Slow, int Cancellations);

    private sealed class Collector : IProgress<ProgressNotificationValue>
    {
        public ConcurrentQueue<ProgressNotificationValue> Updates { get; } = new();

        public void Report(ProgressNotificationValue value) => Updates.Enqueue(value);
    }
}

/// <summary>Official-SDK clients of a node's <c>/mcp</c>.</summary>
internal static class FrontDoorClients
{
    public static async Task<McpClient> ConnectAsync(
        NodeProcess node, CancellationToken cancellationToken, McpClientOptions? options = null, string? apiKey = null, string path = "/mcp",
        HttpTransportMode mode = HttpTransportMode.StreamableHttp)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(node.BaseAddress, path),
            TransportMode = mode,
            AdditionalHeaders = apiKey is null ? null : new Dictionary<string, string> { ["X-API-Key"] = apiKey },
        });
        return await McpClient.CreateAsync(transport, options, cancellationToken: cancellationToken);
    }
}
