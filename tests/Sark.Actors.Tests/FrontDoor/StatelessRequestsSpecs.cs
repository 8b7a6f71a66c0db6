using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary><see cref="StatelessRequests"/>: which stateless requests get a server without the resources and prompts handlers.</summary>
public sealed class StatelessRequestsSpecs
{
    private static ReadOnlySequence<byte> Bytes(string text) => new(Encoding.UTF8.GetBytes(text));

    /// <summary>The same bytes cut into one segment per piece.</summary>
    private static ReadOnlySequence<byte> Segments(params string[] pieces)
    {
        Segment? first = null, last = null;
        foreach (var piece in pieces)
        {
            var segment = new Segment(Encoding.UTF8.GetBytes(piece), last);
            first ??= segment;
            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, Segment? previous)
        {
            Memory = bytes;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"hi"}}}""")]
    [InlineData("""{"jsonrpc":"2.0","id":"a","method":"tools/list"}""")]
    // params before method, with nesting and a "method" member inside it
    [InlineData("""{"params":{"name":"x","arguments":{"method":"resources/list","list":[1,{"a":[]}]}},"jsonrpc":"2.0","id":2,"method":"tools/call"}""")]
    public void A_tools_request_is_recognised(string body) =>
        Assert.True(StatelessRequests.IsToolsRequest(Bytes(body), complete: true));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"resources/list"}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"tools/call"}}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"notifications/initialized"}""")]
    [InlineData("""[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":7}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1}""")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call""")]
    [InlineData("""not json""")]
    [InlineData("")]
    public void Anything_else_gets_the_whole_server(string body) =>
        Assert.False(StatelessRequests.IsToolsRequest(Bytes(body), complete: true));

    [Fact]
    public void A_body_in_several_segments_is_read_across_them_and_one_not_read_that_far_is_not_a_tools_request()
    {
        Assert.True(StatelessRequests.IsToolsRequest(
            Segments("""{"params":{"arguments":{"message":"a lo""", """ng one"}},"me""", """thod":"tools/""", """call","id":1}"""), complete: true));

        // The first read stopped inside params: not known yet, so the whole server.
        Assert.False(StatelessRequests.IsToolsRequest(Bytes("""{"params":{"arguments":{"message":"a lo"""), complete: false));
        // It did reach the method: known.
        Assert.True(StatelessRequests.IsToolsRequest(Bytes("""{"jsonrpc":"2.0","method":"tools/call","params":{"argu"""), complete: false));
    }

    [Fact]
    public async Task Only_a_marked_request_loses_the_resources_and_prompts_handlers_and_keeps_the_tools_ones()
    {
        static McpServerOptions Options() => new()
        {
            Capabilities = new ServerCapabilities { Tools = new ToolsCapability(), Resources = new ResourcesCapability(), Prompts = new PromptsCapability() },
            Handlers = new McpServerHandlers
            {
                CallToolHandler = (_, _) => ValueTask.FromResult(new CallToolResult()),
                ListToolsHandler = (_, _) => ValueTask.FromResult(new ListToolsResult()),
                ListResourcesHandler = (_, _) => ValueTask.FromResult(new ListResourcesResult()),
                ReadResourceHandler = (_, _) => ValueTask.FromResult(new ReadResourceResult()),
                ListPromptsHandler = (_, _) => ValueTask.FromResult(new ListPromptsResult()),
                GetPromptHandler = (_, _) => ValueTask.FromResult(new GetPromptResult()),
            },
        };

        var plain = new DefaultHttpContext();
        var untouched = Options();
        await StatelessRequests.ConfigureServer(plain, untouched, CancellationToken.None);
        Assert.NotNull(untouched.Handlers.ListResourcesHandler);
        Assert.NotNull(untouched.Capabilities!.Prompts);

        var tools = new DefaultHttpContext();
        tools.Request.Method = "POST";
        tools.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"""));
        Assert.Null(await StatelessRequests.ReadAsync(tools, direct: false));
        // The peek left the body for the SDK (Kestrel's request stream reads the same pipe).
        var unread = await tools.Request.BodyReader.ReadAsync();
        Assert.Equal("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}""", Encoding.UTF8.GetString(unread.Buffer));
        tools.Request.BodyReader.AdvanceTo(unread.Buffer.End);
        var trimmed = Options();
        await StatelessRequests.ConfigureServer(tools, trimmed, CancellationToken.None);
        Assert.Null(trimmed.Handlers.ListResourcesHandler);
        Assert.Null(trimmed.Handlers.ReadResourceHandler);
        Assert.Null(trimmed.Handlers.ListPromptsHandler);
        Assert.Null(trimmed.Handlers.GetPromptHandler);
        Assert.Null(trimmed.Capabilities!.Resources);
        Assert.Null(trimmed.Capabilities.Prompts);
        Assert.NotNull(trimmed.Handlers.CallToolHandler);
        Assert.NotNull(trimmed.Handlers.ListToolsHandler);
        Assert.NotNull(trimmed.Capabilities.Tools);
    }

    private static DefaultHttpContext Post(string body, string accept = "application/json, text/event-stream")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Headers.Accept = accept;
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        return context;
    }

    [Fact]
    public async Task A_plain_tools_call_is_read_whole_consumed_and_returned_as_a_direct_call()
    {
        var body = """{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"MESSAGE"}}}"""
            .Replace("MESSAGE", new string('x', 100_000), StringComparison.Ordinal);
        var context = Post(body);

        var call = await StatelessRequests.ReadAsync(context, direct: true);

        Assert.NotNull(call);
        Assert.Equal("demo__echo", call.Params.Name);
        Assert.Equal(100_000, call.Params.Arguments!["message"].GetString()!.Length);
        var rest = await context.Request.BodyReader.ReadAsync();
        Assert.True(rest.IsCompleted);
        Assert.Equal(0, rest.Buffer.Length);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"demo__echo","_meta":{"progressToken":"p"}}}""", "application/json, text/event-stream")]
    [InlineData("""{"jsonrpc":"2.0","id":7,"method":"tools/list"}""", "application/json, text/event-stream")]
    [InlineData("""{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"demo__echo"}}""", "application/json")]
    public async Task A_tools_request_the_sdk_must_answer_is_left_unread_and_marked(string body, string accept)
    {
        var context = Post(body, accept);

        Assert.Null(await StatelessRequests.ReadAsync(context, direct: true));

        var unread = await context.Request.BodyReader.ReadAsync();
        Assert.Equal(body, Encoding.UTF8.GetString(unread.Buffer));
        var options = new McpServerOptions { Capabilities = new ServerCapabilities { Resources = new ResourcesCapability() } };
        await StatelessRequests.ConfigureServer(context, options, CancellationToken.None);
        Assert.Null(options.Capabilities!.Resources);
    }
}
