using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ModelContextProtocol.Protocol;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>
/// Direct tool calls in sessions: which calls a session or a legacy post may answer itself, how a
/// session's <c>notifications/cancelled</c> reaches them (<see cref="DirectCalls"/>), when a call
/// still goes to the SDK for the session's idle clock (<see cref="DirectSession"/>), and the
/// response of a long call (<see cref="DirectResponse"/>). The answers themselves are compared
/// with the SDK's against real nodes (FrontDoorDirectSessionSpecs).
/// </summary>
public sealed class DirectSessionSpecs
{
    private static readonly HeaderDictionary Accepts = new() { ["Accept"] = "application/json, text/event-stream" };

    private static ReadOnlySequence<byte> Bytes(string text) => new(Encoding.UTF8.GetBytes(text));

    private static JsonRpcRequest Request(string json) =>
        Assert.IsType<JsonRpcRequest>(System.Text.Json.JsonSerializer.Deserialize(json, DirectToolCall.Json<JsonRpcMessage>()));

    [Fact]
    public void A_session_takes_a_handshake_revisions_call_but_not_a_2026_07_28_one()
    {
        const string Plain = """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"m"}}}""";
        const string Modern = """
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"demo__echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}
            """;
        var modernHeaders = new HeaderDictionary
        {
            ["Accept"] = "application/json, text/event-stream", ["MCP-Protocol-Version"] = "2026-07-28", ["Mcp-Method"] = "tools/call", ["Mcp-Name"] = "demo__echo",
        };

        Assert.NotNull(DirectToolCall.TryParse(Bytes(Plain), Accepts, perRequestMetadata: false));
        Assert.NotNull(DirectToolCall.TryParse(Bytes(Modern), modernHeaders));
        Assert.Null(DirectToolCall.TryParse(Bytes(Modern), modernHeaders, perRequestMetadata: false));
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"m"}}}""", true)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":{"trace":"t"}}}""", true)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":{"progressToken":"p"}}}""", false)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2025-06-18"}}}""", false)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","task":{}}}""", false)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", false)]
    public void A_legacy_post_is_direct_when_it_is_a_plain_call(string json, bool direct)
    {
        var call = DirectToolCall.Of(Request(json), headers: null, perRequestMetadata: false);

        Assert.Equal(direct, call is not null);
        if (call is not null)
            Assert.False(call.PerRequestMetadata);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r"}}""", "Cancelled")]
    [InlineData("""{"params":{"requestId":7},"method":"notifications/cancelled","jsonrpc":"2.0"}""", "Cancelled")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}""", "ToolsCall")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", "ToolsList")]
    [InlineData("""{"jsonrpc":"2.0","method":"notifications/initialized"}""", "Other")]
    [InlineData("""[{"jsonrpc":"2.0","method":"notifications/cancelled"}]""", "Other")]
    [InlineData("""{"jsonrpc":"2.0","method":7}""", "Other")]
    [InlineData("""{"jsonrpc":""", "Other")]
    public void The_method_is_read_off_the_body(string body, string method) =>
        Assert.Equal(Enum.Parse<RequestMethod>(method), StatelessRequests.MethodOf(Bytes(body), complete: true));

    [Fact]
    public void A_cancelled_notification_cancels_the_call_it_names_and_nothing_else()
    {
        var calls = new DirectCalls();
        var a = calls.Begin(new RequestId("a"), CancellationToken.None, CancellationToken.None);
        var seven = calls.Begin(new RequestId(7), CancellationToken.None, CancellationToken.None);

        Assert.False(calls.Cancel(Bytes("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"b"}}""")));
        Assert.False(calls.Cancel(Bytes("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"7"}}""")));
        Assert.False(calls.Cancel(Bytes("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"no":1}}}""")));
        Assert.False(calls.Cancel(Bytes("""{"jsonrpc":"2.0","method":"notifications/progress","params":{"requestId":"a"}}""")));
        Assert.False(calls.Cancel(Bytes("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a""")));
        Assert.False(a.IsCancellationRequested);
        Assert.False(seven.IsCancellationRequested);

        Assert.True(calls.Cancel(Bytes("""{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"r"}}""")));
        Assert.True(seven.IsCancellationRequested);
        Assert.False(a.IsCancellationRequested);
        Assert.Equal(2, calls.Count);

        calls.End(new RequestId(7), seven);
        calls.End(new RequestId("a"), a);
        Assert.Equal(0, calls.Count);
        Assert.False(calls.Cancel(new JsonRpcNotification { Method = NotificationMethods.CancelledNotification, Params = new JsonObject { ["requestId"] = "a" } }));
    }

    [Fact]
    public void A_call_ends_with_its_request_or_its_session()
    {
        var calls = new DirectCalls();
        using var request = new CancellationTokenSource();
        using var session = new CancellationTokenSource();
        var first = calls.Begin(new RequestId(1), request.Token, session.Token);
        var second = calls.Begin(new RequestId(2), CancellationToken.None, session.Token);

        request.Cancel();
        Assert.True(first.IsCancellationRequested);
        Assert.False(second.IsCancellationRequested);
        session.Cancel();
        Assert.True(second.IsCancellationRequested);

        // A reused id: the older call's End leaves the newer call cancellable.
        var older = calls.Begin(new RequestId("x"), CancellationToken.None, CancellationToken.None);
        var newer = calls.Begin(new RequestId("x"), CancellationToken.None, CancellationToken.None);
        calls.End(new RequestId("x"), older);
        Assert.True(calls.Cancel(new JsonRpcNotification { Method = NotificationMethods.CancelledNotification, Params = new JsonObject { ["requestId"] = "x" } }));
        Assert.True(newer.IsCancellationRequested);
    }

    [Fact]
    public void A_session_sends_a_call_to_the_sdk_once_a_quarter_of_the_idle_timeout_has_passed()
    {
        var sessions = new DirectSessions(TimeSpan.FromSeconds(40));
        using var known = sessions.Add("s-1", "alice", server: null!, eventStore: false, CancellationToken.None);
        var session = Assert.IsType<DirectSession>(sessions.Find("s-1"));
        var start = Environment.TickCount64;

        Assert.Equal("alice", session.CallerId);
        Assert.Null(sessions.Find("s-2"));
        Assert.Null(sessions.Find(null));
        Assert.False(session.SdkDue(start + 9_000));
        Assert.True(session.SdkDue(start + 10_500));
        // The one that went counts: the next is due a quarter after it.
        Assert.False(session.SdkDue(start + 11_000));
        session.SentToSdk(start + 15_000);
        Assert.False(session.SdkDue(start + 24_000));
        Assert.True(session.SdkDue(start + 25_500));

        known.Dispose();
        Assert.Null(sessions.Find("s-1"));
        Assert.Equal(0, sessions.Count);
    }

    [Fact]
    public async Task A_long_call_gets_its_headers_and_preamble_at_a_tick_then_comments_and_the_answer_after_them()
    {
        var (context, output) = Context();
        var response = new DirectResponse(context, "event: prime\ndata: \n\n"u8.ToArray());

        Assert.Null(context.Response.ContentType);
        await response.TickQuietlyAsync(CancellationToken.None);
        Assert.Equal("text/event-stream", context.Response.ContentType);
        await response.TickQuietlyAsync(CancellationToken.None);
        var started = await response.BeginAnswerAsync();
        await response.TickQuietlyAsync(CancellationToken.None);

        Assert.True(started);
        Assert.Equal("event: prime\ndata: \n\n: keep-alive\n\n", await ReadAsync(output));
    }

    [Fact]
    public async Task A_call_answered_before_any_tick_sends_everything_with_its_answer()
    {
        var (context, output) = Context();
        var response = new DirectResponse(context, default);
        var call = Assert.IsType<DirectToolCall>(DirectToolCall.TryParse(
            Bytes("""{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"demo__echo"}}"""), Accepts));

        var started = await response.BeginAnswerAsync();
        await response.TickQuietlyAsync(CancellationToken.None);
        Assert.Null(context.Response.ContentType);
        await call.WriteAsync(context, call.Response(new CallToolResult { Content = [new TextContentBlock { Text = "t" }] }, new Implementation { Name = "n", Version = "1" }),
            started, "event: prime\ndata: \n\n"u8.ToArray());

        Assert.False(started);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        var text = await ReadAsync(output);
        Assert.StartsWith("event: prime\ndata: \n\nevent: message\ndata: {", text, StringComparison.Ordinal);
        Assert.Contains("\"id\":9", text, StringComparison.Ordinal);
        Assert.EndsWith("}\n\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_call_ends_its_stream_without_an_event()
    {
        var (context, output) = Context();
        var call = Assert.IsType<DirectToolCall>(DirectToolCall.TryParse(
            Bytes("""{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"demo__echo"}}"""), Accepts));

        await call.WriteAsync(context, answer: null, started: false);

        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal("text/event-stream", context.Response.ContentType);
        Assert.Equal("", await ReadAsync(output));
    }

    private static (DefaultHttpContext Context, Pipe Output) Context()
    {
        var output = new Pipe();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(output.Writer.AsStream()));
        return (context, output);
    }

    private static async Task<string> ReadAsync(Pipe output)
    {
        await output.Writer.CompleteAsync();
        var read = await output.Reader.ReadAsync();
        while (!read.IsCompleted)
        {
            output.Reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            read = await output.Reader.ReadAsync();
        }

        return Encoding.UTF8.GetString(read.Buffer.ToArray());
    }
}
