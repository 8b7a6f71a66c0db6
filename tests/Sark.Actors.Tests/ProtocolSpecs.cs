using System.Buffers;
using System.Text;
using System.Text.Json;
using Sark.Actors.Protocol;

namespace Sark.Actors.Tests;

public sealed class ProtocolSpecs
{
    private static JsonRpcInbound Parse(string line) => JsonRpcParser.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line)));

    private static async Task<List<JsonRpcInbound>> ReadAll(string text, int max)
    {
        var messages = new List<JsonRpcInbound>();
        await NdjsonReader.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), max, messages.Add, CancellationToken.None);
        return messages;
    }

    [Fact]
    public void Parser_tells_responses_requests_notifications_and_garbage_apart()
    {
        var response = Assert.IsType<JsonRpcInbound.Response>(Parse("""{"result":{"ok":true},"jsonrpc":"2.0","id":7}"""));
        Assert.Equal(7, response.Id);
        Assert.True(response.Result!.Value.GetProperty("ok").GetBoolean());

        var error = Assert.IsType<JsonRpcInbound.Response>(Parse("""{"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"Unknown tool: x"}}"""));
        Assert.Equal(-32602, error.Error!.Code);
        Assert.Equal("Unknown tool: x", error.Error.Message);

        var request = Assert.IsType<JsonRpcInbound.Request>(Parse("""{"jsonrpc":"2.0","id":"srv-1","method":"ping"}"""));
        Assert.Equal("ping", request.Method);
        Assert.Equal("srv-1", request.Id.GetString());

        Assert.IsType<JsonRpcInbound.Notification>(Parse("""{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"""));
        Assert.IsType<JsonRpcInbound.Invalid>(Parse("this is not json"));
        Assert.IsType<JsonRpcInbound.Invalid>(Parse("[1,2]"));
        Assert.IsType<JsonRpcInbound.Invalid>(Parse("""{"jsonrpc":"2.0","id":1}"""));
    }

    [Fact]
    public void A_response_with_a_string_id_is_not_ours()
    {
        var response = Assert.IsType<JsonRpcInbound.Response>(Parse("""{"jsonrpc":"2.0","id":"abc","result":{}}"""));
        Assert.Null(response.Id);
    }

    [Fact]
    public async Task Reader_splits_lines_tolerates_crlf_and_keeps_a_final_line_without_newline()
    {
        var messages = await ReadAll("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}", 1024);

        Assert.Equal([1L, 2L], messages.Cast<JsonRpcInbound.Response>().Select(r => r.Id!.Value));
    }

    [Fact]
    public async Task Reader_discards_an_oversized_line_and_finds_its_id_at_the_end()
    {
        var big = new string('x', 50_000);
        var text = $"{{\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\"{big}\"}}]}},\"jsonrpc\":\"2.0\",\"id\":42}}\n{{\"jsonrpc\":\"2.0\",\"id\":43,\"result\":{{}}}}\n";

        var messages = await ReadAll(text, 4096);

        var oversized = Assert.IsType<JsonRpcInbound.Oversized>(messages[0]);
        Assert.Equal(42, oversized.Id);
        Assert.True(oversized.Length > 50_000);
        Assert.Equal(43, Assert.IsType<JsonRpcInbound.Response>(messages[1]).Id);
    }

    [Fact]
    public async Task Reader_finds_the_id_of_an_oversized_line_at_its_start()
    {
        var text = $"{{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":\"{new string('y', 200_000)}\"}}\n";

        var messages = await ReadAll(text, 1024);

        Assert.Equal(5, Assert.IsType<JsonRpcInbound.Oversized>(Assert.Single(messages)).Id);
    }

    [Fact]
    public void Tool_list_follows_cursors_and_stops_on_a_repeated_one()
    {
        var list = new McpToolList("demo", maxPages: 10);
        var page1 = JsonDocument.Parse("""{"tools":[{"name":"a","inputSchema":{"type":"object","properties":{"m":{"type":"string"}},"required":["m"]}}],"nextCursor":"c1"}""").RootElement;
        var page2 = JsonDocument.Parse("""{"tools":[{"name":"b"}],"nextCursor":"c1"}""").RootElement;

        var first = list.AddPage(page1);
        Assert.Equal("c1", first.NextCursor);
        var second = list.AddPage(page2);
        Assert.Null(second.Tools);
        Assert.Contains("repeated the cursor", second.Error);
    }

    [Fact]
    public void Tool_list_reads_parameters_from_the_schema_and_ends_without_a_cursor()
    {
        var list = new McpToolList("demo", maxPages: 10);
        var page = JsonDocument.Parse("""{"tools":[{"name":"a","description":"d","inputSchema":{"type":"object","properties":{"m":{"type":"string"},"n":{"type":"number"}},"required":["m"]}}]}""").RootElement;

        var tools = list.AddPage(page).Tools!.Value;

        var tool = Assert.Single(tools);
        Assert.Equal("demo", tool.ServerName);
        Assert.Equal([("m", "string", true), ("n", "number", false)], tool.Parameters.Select(p => (p.Name, p.Type, p.Required)));
    }

    [Fact]
    public void Tool_list_has_a_max_pages_guard()
    {
        var list = new McpToolList("demo", maxPages: 2);
        Assert.Equal("p1", list.AddPage(JsonDocument.Parse("""{"tools":[],"nextCursor":"p1"}""").RootElement).NextCursor);
        Assert.Contains("max-list-pages", list.AddPage(JsonDocument.Parse("""{"tools":[],"nextCursor":"p2"}""").RootElement).Error);
    }

    [Fact]
    public void Pending_calls_are_found_by_json_rpc_id_and_by_request_id()
    {
        var pending = new PendingCalls();
        var a = pending.Add(new PendingCall(PendingKind.CallTool, "req-a", "echo", null, 0));
        var b = pending.Add(new PendingCall(PendingKind.Ping, null, null, null, 0));

        Assert.NotEqual(a, b);
        Assert.Equal(a, pending.SoleToolCallId());
        Assert.True(pending.TryRemoveByRequestId("req-a", out var id, out var call));
        Assert.Equal(a, id);
        Assert.Equal("echo", call.Tool);
        Assert.False(pending.TryRemove(a, out _));
        Assert.Single(pending.DrainAll());
        Assert.Equal(0, pending.Count);
    }

    [Fact]
    public void The_deadline_sweep_finds_what_is_due_and_says_whether_anything_is_left_to_watch()
    {
        var pending = new PendingCalls();
        pending.Add(new PendingCall(PendingKind.Ping, null, null, null, 0));
        Assert.Equal((null, false), pending.Due(TimeSpan.FromSeconds(100)));

        var early = pending.Add(new PendingCall(PendingKind.CallTool, "a", "t", null, 0) { Deadline = TimeSpan.FromSeconds(10) });
        var late = pending.Add(new PendingCall(PendingKind.Forward, "b", "prompts/get", null, 0) { Deadline = TimeSpan.FromSeconds(20) });

        var (none, left) = pending.Due(TimeSpan.FromSeconds(9.999));
        Assert.Null(none);
        Assert.True(left);

        var (due, stillLeft) = pending.Due(TimeSpan.FromSeconds(10));
        Assert.Equal([early], due!);
        Assert.True(stillLeft);

        Assert.True(pending.TryRemove(early, out _));
        var (last, nothingLeft) = pending.Due(TimeSpan.FromSeconds(25));
        Assert.Equal([late], last!);
        Assert.False(nothingLeft);
    }

    [Fact]
    public void Failure_counter_opens_at_the_threshold_and_a_success_resets_it()
    {
        var counter = new FailureCounter(3);
        Assert.False(counter.RecordFailure());
        Assert.False(counter.RecordFailure());
        counter.RecordSuccess();
        Assert.False(counter.RecordFailure());
        Assert.False(counter.RecordFailure());
        Assert.True(counter.RecordFailure());
    }

    [Fact]
    public void Writer_writes_one_json_line_per_message()
    {
        var writer = new JsonRpcWriter();
        var args = JsonDocument.Parse("""{"message":"hi"}""").RootElement;

        var line = Encoding.UTF8.GetString(writer.CallTool(3, "echo", args));

        Assert.EndsWith("\n", line);
        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var parsed = JsonDocument.Parse(line).RootElement;
        Assert.Equal("2.0", parsed.GetProperty("jsonrpc").GetString());
        Assert.Equal(3, parsed.GetProperty("id").GetInt64());
        Assert.Equal("hi", parsed.GetProperty("params").GetProperty("arguments").GetProperty("message").GetString());
    }

    [Fact]
    public void A_call_that_asks_for_progress_sends_its_id_as_the_progress_token()
    {
        var writer = new JsonRpcWriter();
        using var with = JsonDocument.Parse(writer.CallTool(5, "slow", null, progressToken: 5));
        using var without = JsonDocument.Parse(writer.CallTool(6, "slow", null));

        Assert.Equal(5, with.RootElement.GetProperty("params").GetProperty("_meta").GetProperty("progressToken").GetInt64());
        Assert.False(without.RootElement.GetProperty("params").TryGetProperty("_meta", out _));
    }

    [Theory]
    [InlineData("""{"progressToken":9,"progress":2,"total":4,"message":"half"}""", true, 9L, 2.0, 4.0, "half")]
    [InlineData("""{"progressToken":9,"progress":0.5}""", true, 9L, 0.5, null, null)]
    [InlineData("""{"progressToken":"someone-else","progress":1}""", false, 0L, 0.0, null, null)]
    [InlineData("""{"progressToken":9}""", false, 0L, 0.0, null, null)]
    [InlineData("""[]""", false, 0L, 0.0, null, null)]
    public void Progress_notifications_are_read_only_when_their_token_is_one_of_our_ids(
        string parameters, bool ours, long token, double progress, double? total, string? message)
    {
        var read = Sark.Actors.Protocol.McpMessages.TryReadProgress(JsonDocument.Parse(parameters).RootElement, out var t, out var p);

        Assert.Equal(ours, read);
        if (!ours)
            return;
        Assert.Equal(token, t);
        Assert.Equal(new ToolProgress(progress, total, message), p);
    }

    [Fact]
    public void Initialize_offers_sampling_and_elicitation_only_when_relaying()
    {
        var writer = new JsonRpcWriter();
        using var plain = JsonDocument.Parse(writer.Request(1, "initialize", McpMessages.InitializeParams));
        using var relay = JsonDocument.Parse(writer.Request(1, "initialize", McpMessages.InitializeParamsWithRelay));

        Assert.Empty(plain.RootElement.GetProperty("params").GetProperty("capabilities").EnumerateObject());
        var capabilities = relay.RootElement.GetProperty("params").GetProperty("capabilities");
        Assert.Equal(["sampling", "elicitation"], capabilities.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void A_server_request_is_attributed_only_when_one_call_in_flight_has_a_client()
    {
        var pending = new PendingCalls();
        var a = new NoClient();
        pending.Add(new PendingCall(PendingKind.Ping, null, null, null, 0));
        Assert.Null(pending.SoleClient());

        var first = pending.Add(new PendingCall(PendingKind.CallTool, "req-a", "t", null, 0) { Client = a });
        pending.Add(new PendingCall(PendingKind.CallTool, "req-b", "t", null, 0));
        Assert.Same(a, pending.SoleClient());

        pending.Add(new PendingCall(PendingKind.CallTool, "req-c", "t", null, 0) { Client = new NoClient() });
        Assert.Null(pending.SoleClient());

        pending.TryRemove(first, out _);
        Assert.NotNull(pending.SoleClient());
    }

    private sealed class NoClient : IUpstreamClient
    {
        public Task<JsonElement> RequestAsync(string method, JsonElement? parameters, CancellationToken cancellationToken) => Task.FromResult(default(JsonElement));

        public void Notify(string method, JsonElement? parameters)
        {
        }
    }
}
