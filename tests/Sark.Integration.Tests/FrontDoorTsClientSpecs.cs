using System.Text.Json;
using Sark.Integration.Tests.Infrastructure;

namespace Sark.Integration.Tests;

/// <summary>
/// The official TypeScript SDK client (<c>tests/peers/mcp-client.mjs</c>, a real <c>node</c>
/// process) against a node with the demo server and server-everything (issue 7, "Show"): over
/// Streamable HTTP (<c>/mcp</c>) and legacy SSE (<c>/sse</c>) it lists both upstreams' tools,
/// calls <c>echo</c> on both, receives progress, cancels a slow call and gets list_changed; and
/// receives progress at one server's <c>/servers/{name}/mcp</c> and <c>/servers/{name}/sse</c>.
/// </summary>
public sealed class FrontDoorTsClientSpecs(RelayNodeFixture fixture) : IClassFixture<RelayNodeFixture>
{
    private Uri Url(string transport) => new(fixture.Node.BaseAddress, transport == "sse" ? "/sse" : "/mcp");

    [Theory]
    [InlineData("streamable-http")]
    [InlineData("sse")]
    public async Task The_ts_client_lists_both_upstreams_and_echo_answers_on_both(string transport)
    {
        var list = await TsMcpClient.RunAsync(transport, Url(transport), null, "list");
        var names = list.Result.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToHashSet();

        Assert.Contains("demo__echo", names);
        Assert.Contains("demo__slow", names);
        Assert.Contains("everything__echo", names);
        Assert.Contains("everything__trigger-long-running-operation", names);
        foreach (var tool in new[] { "demo__echo", "everything__echo" })
        {
            var call = await TsMcpClient.RunAsync(transport, Url(transport), null, "call", tool, """{"message":"from ts"}""");
            Assert.NotEqual(JsonValueKind.True, IsError(call.Result));
            Assert.Equal("Echo: from ts", call.Result.GetProperty("content")[0].GetProperty("text").GetString());
        }
    }

    [Theory]
    [InlineData("streamable-http", "/mcp", "everything__trigger-long-running-operation")]
    [InlineData("sse", "/sse", "everything__trigger-long-running-operation")]
    [InlineData("streamable-http", "/servers/everything/mcp", "trigger-long-running-operation")]
    [InlineData("sse", "/servers/everything/sse", "trigger-long-running-operation")]
    public async Task The_ts_client_receives_every_progress_update_before_the_result(string transport, string path, string tool)
    {
        var run = await TsMcpClient.RunAsync(transport, new Uri(fixture.Node.BaseAddress, path), null,
            "progress", tool, """{"duration":1,"steps":4}""");

        // On the wire: all four updates, then the answer.
        var wire = run.Result.GetProperty("wire").EnumerateArray().ToArray();
        Assert.NotEqual(JsonValueKind.True, IsError(run.Result.GetProperty("result")));
        Assert.Equal(5, wire.Length);
        Assert.Equal("result", wire[^1].GetProperty("kind").GetString());
        Assert.Equal([1.0, 2.0, 3.0, 4.0], wire[..^1].Select(e => e.GetProperty("progress").GetDouble()));
        Assert.All(wire[..^1], e => Assert.Equal(4.0, e.GetProperty("total").GetDouble()));

        // Through onprogress, before callTool resolved: the SDK hands a notification to its handler a
        // microtask late but settles the answer at once, so the last update may miss it when both
        // arrive in one read (as with the C# SDK client, FrontDoorRelaySpecs).
        var delivered = run.Result.GetProperty("delivered").EnumerateArray().ToArray();
        Assert.Equal("result", delivered[^1].GetProperty("kind").GetString());
        var updates = delivered[..^1].Select(e => e.GetProperty("progress").GetDouble()).ToArray();
        Assert.InRange(updates.Length, 3, 4);
        Assert.Equal(new[] { 1.0, 2.0, 3.0, 4.0 }[..updates.Length], updates);
    }

    [Theory]
    [InlineData("streamable-http")]
    [InlineData("sse")]
    public async Task An_aborted_ts_call_cancels_the_slow_call_on_the_demo_server(string transport)
    {
        var run = await TsMcpClient.RunAsync(transport, Url(transport), null, "cancel", "demo__slow", """{"ms":30000}""", "demo__stats", "slow");

        var result = run.Result;
        var before = result.GetProperty("before").GetProperty("cancellations").GetInt32();
        Assert.Equal(before + 1, result.GetProperty("after").GetProperty("cancellations").GetInt32());
        // The aborted call was rejected on the client (no result came for it).
        Assert.Equal(JsonValueKind.Object, result.GetProperty("error").ValueKind);
        // The demo process is the same one before and after: it was not a restart that ended the call.
        Assert.Equal(result.GetProperty("before").GetProperty("pid").GetInt32(), result.GetProperty("after").GetProperty("pid").GetInt32());
    }

    [Theory]
    [InlineData("streamable-http")]
    [InlineData("sse")]
    public async Task A_new_upstream_tool_sends_list_changed_to_the_ts_client_and_then_is_listed(string transport)
    {
        var name = $"ts_{transport[..3]}_{Guid.NewGuid():N}"[..20];

        var run = await TsMcpClient.RunAsync(transport, Url(transport), null, "list-changed", "demo__add_tool", $$"""{"name":"{{name}}"}""");

        Assert.True(run.Result.GetProperty("notifications").GetInt32() >= 1, run.ToString());
        Assert.Contains($"demo__{name}", run.Result.GetProperty("tools").EnumerateArray().Select(t => t.GetString()));
    }

    private static JsonValueKind IsError(JsonElement callToolResult) =>
        callToolResult.TryGetProperty("isError", out var isError) ? isError.ValueKind : JsonValueKind.Undefined;
}
