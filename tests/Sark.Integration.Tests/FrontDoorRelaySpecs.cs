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
        var progress = new SessionProgress();
        await using var client = await ConnectAsync(mode, timeout.Token, progress.Options);

        var result = await client.CallToolAsync(
            "everything__trigger-long-running-operation", new Dictionary<string, object?> { ["duration"] = 1, ["steps"] = 4 },
            options: progress.NewCall(), cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        var updates = await progress.WaitForAsync(4, Timeout);
        SessionProgress.AssertAllFour(updates, progress.Token);
    }

    [Theory]
    [InlineData("/mcp", "everything__trigger-long-running-operation")]
    [InlineData("/servers/everything/mcp", "trigger-long-running-operation")]
    public async Task The_node_writes_every_progress_update_before_the_answer(string path, string tool)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var http = fixture.Node.Http;
        var mcp = new Uri(fixture.Node.BaseAddress, path);
        var sessionId = await RawMcp.OpenSessionAsync(http, mcp, apiKey: null, timeout.Token);
        var call = """{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"TOOL","arguments":{"duration":1,"steps":4},"_meta":{"progressToken":"caller-token"}}}""".Replace("TOOL", tool, StringComparison.Ordinal);

        using var post = await http.SendAsync(RawMcp.Post(mcp, call, apiKey: null, sessionId), timeout.Token);
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
        var before = await FrontDoorClients.DemoStatsAsync(client, timeout.Token);

        var call = await FrontDoorClients.CancelSlowCallAsync(client, client, before, Timeout, timeout.Token);

        var after = await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(client, timeout.Token), s => s.Cancellations > before.Cancellations, Timeout,
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
        var before = await FrontDoorClients.DemoStatsAsync(observer, timeout.Token);

        var leaving = await ConnectAsync(mode, timeout.Token);
        var call = leaving.CallToolAsync("demo__slow", new Dictionary<string, object?> { ["ms"] = 30_000 }, cancellationToken: timeout.Token).AsTask();
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Slow > before.Slow, Timeout, "the slow call reaching the demo server");
        await leaving.DisposeAsync();

        await Assert.ThrowsAnyAsync<Exception>(() => call);
        await Eventually.UntilAsync(() => FrontDoorClients.DemoStatsAsync(observer, timeout.Token), s => s.Cancellations > before.Cancellations, Timeout,
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
}

/// <summary>Official-SDK clients of a node's <c>/mcp</c>.</summary>
internal static class FrontDoorClients
{
    /// <summary>The demo server's <c>stats</c> through a front-door client: its pid, its <c>slow</c> calls and the cancellations it saw.</summary>
    public static async Task<DemoStats> DemoStatsAsync(McpClient client, CancellationToken cancellationToken)
    {
        var result = await client.CallToolAsync("demo__stats", new Dictionary<string, object?>(), cancellationToken: cancellationToken);
        using var json = JsonDocument.Parse(Assert.IsType<TextContentBlock>(result.Content[0]).Text);
        var root = json.RootElement;
        var slow = root.GetProperty("calls").TryGetProperty("slow", out var s) ? s.GetInt32() : 0;
        return new DemoStats(root.GetProperty("pid").GetInt32(), slow, root.GetProperty("cancellations").GetInt32());
    }

    internal sealed record DemoStats(int Pid, int Slow, int Cancellations);

    /// <summary>
    /// Starts a 30 s <c>slow</c> call through <paramref name="client"/> under a request id of its
    /// own, waits for the demo server to have it (seen through <paramref name="observer"/>, which may
    /// be the same client), and cancels it with <c>notifications/cancelled</c> (the SDK client sends
    /// none by itself while a Streamable HTTP answer is streaming; a dropped POST is not a
    /// cancellation in MCP). Returns the call, which must get no result.
    /// </summary>
    public static async Task<Task<JsonRpcResponse>> CancelSlowCallAsync(McpClient client, McpClient observer, DemoStats before, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var id = new RequestId($"cancel-me-{Guid.NewGuid():N}");
        var call = client.SendRequestAsync(new JsonRpcRequest
        {
            Id = id,
            Method = RequestMethods.ToolsCall,
            Params = JsonSerializer.SerializeToNode(
                new CallToolRequestParams { Name = "demo__slow", Arguments = new Dictionary<string, JsonElement> { ["ms"] = JsonSerializer.SerializeToElement(30_000) } },
                McpJsonUtilities.DefaultOptions),
        }, cancellationToken);
        await Eventually.UntilAsync(() => DemoStatsAsync(observer, cancellationToken), s => s.Slow > before.Slow, timeout, "the slow call reaching the demo server");
        await client.SendMessageAsync(new JsonRpcNotification
        {
            Method = NotificationMethods.CancelledNotification,
            Params = JsonSerializer.SerializeToNode(new CancelledNotificationParams { RequestId = id, Reason = "spec" }, McpJsonUtilities.DefaultOptions),
        }, cancellationToken);
        return call;
    }

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

/// <summary>
/// Every <c>notifications/progress</c> a client session receives, recorded by a handler registered
/// with the session, and the progress token of the spec's call. Not the SDK's
/// <c>CallToolAsync(…, IProgress)</c>: that stops listening as soon as the client has handled the
/// answer, and the client handles each incoming message on a thread-pool work item of its own, so
/// the updates still waiting for a thread then are lost on the client's side. Unloaded that is the
/// last one or none; under load the updates bunch up and any number of them (all four have been
/// seen). The node writes all four before the answer
/// (<see cref="FrontDoorRelaySpecs.The_node_writes_every_progress_update_before_the_answer"/>), so a
/// handler that never stops listening gets all four.
/// </summary>
internal sealed class SessionProgress
{
    private readonly ConcurrentQueue<ProgressNotificationParams> _received = new();

    /// <summary>The caller's own token, sent in the call's <c>_meta.progressToken</c>.</summary>
    public ProgressToken Token { get; } = new($"spec-{Guid.NewGuid():N}");

    /// <summary>Client options with the recording handler.</summary>
    public McpClientOptions Options => new()
    {
        Handlers = new McpClientHandlers
        {
            NotificationHandlers =
            [
                new(NotificationMethods.ProgressNotification, (notification, _) =>
                {
                    _received.Enqueue(notification.Params.Deserialize<ProgressNotificationParams>(McpJsonUtilities.DefaultOptions)
                        ?? throw new InvalidOperationException("notifications/progress without params."));
                    return ValueTask.CompletedTask;
                }),
            ],
        },
    };

    /// <summary>Request options that send <see cref="Token"/>.</summary>
    public RequestOptions NewCall() => new() { ProgressToken = Token };

    public async Task<ProgressNotificationParams[]> WaitForAsync(int count, TimeSpan timeout) =>
        (await Eventually.UntilAsync(() => Task.FromResult(new Snapshot(_received.ToArray())), s => s.Updates.Length >= count, timeout, $"{count} progress updates")).Updates;

    /// <summary>Steps 1 to 4 of 4, all under <paramref name="token"/>.</summary>
    public static void AssertAllFour(ProgressNotificationParams[] updates, ProgressToken token)
    {
        // The client handles each message on a task of its own, so updates that arrive together
        // may be recorded out of order; the wire order is checked by the raw spec.
        Assert.Equal([1f, 2f, 3f, 4f], updates.Select(u => u.Progress.Progress).Order());
        Assert.All(updates, u =>
        {
            Assert.Equal(token, u.ProgressToken);
            Assert.Equal(4f, u.Progress.Total);
        });
    }

    private sealed record Snapshot(ProgressNotificationParams[] Updates)
    {
        public override string ToString() => $"{Updates.Length} updates: [{string.Join(", ", Updates.Select(u => $"{u.ProgressToken} {u.Progress.Progress}"))}]";
    }
}
