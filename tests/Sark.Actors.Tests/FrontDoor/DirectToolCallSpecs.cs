using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Sark.Host.FrontDoor;

namespace Sark.Actors.Tests.FrontDoor;

/// <summary>
/// <see cref="DirectToolCall"/>: which stateless requests the front door answers itself, and the
/// answer it makes. (That the answer is the SDK's, byte for byte, is shown against two real nodes
/// in the integration specs, FrontDoorDirectCallSpecs.)
/// </summary>
public sealed class DirectToolCallSpecs
{
    private const string Meta = """
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}
        """;

    private const string Modern = $$$"""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"m"},{{{Meta}}}}}""";

    private static HeaderDictionary Headers(string? version = null, string? method = null, string? name = null, string accept = "application/json, text/event-stream")
    {
        var headers = new HeaderDictionary { ["Accept"] = accept };
        if (version is not null)
            headers["MCP-Protocol-Version"] = version;
        if (method is not null)
            headers["Mcp-Method"] = method;
        if (name is not null)
            headers["Mcp-Name"] = name;
        return headers;
    }

    private static DirectToolCall? Parse(string body, HeaderDictionary headers) =>
        DirectToolCall.TryParse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(body)), headers);

    [Theory]
    [InlineData(null)]
    [InlineData("2024-11-05")]
    [InlineData("2025-03-26")]
    [InlineData("2025-06-18")]
    [InlineData("2025-11-25")]
    public void A_plain_call_of_a_handshake_revision_is_direct_and_keeps_its_arguments(string? version)
    {
        var call = Parse("""{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"demo__echo","arguments":{"message":"m","n":2}}}""", Headers(version));

        Assert.NotNull(call);
        Assert.False(call.PerRequestMetadata);
        Assert.Equal("a-1", call.Request.Id.ToString());
        Assert.Equal("demo__echo", call.Params.Name);
        Assert.Equal("m", call.Params.Arguments!["message"].GetString());
        Assert.Equal(2, call.Params.Arguments["n"].GetInt32());
    }

    [Fact]
    public void A_2026_07_28_call_with_its_headers_and_metadata_is_direct()
    {
        var call = Parse(Modern, Headers("2026-07-28", "tools/call", "demo__echo"));

        Assert.NotNull(call);
        Assert.True(call.PerRequestMetadata);
    }

    [Theory]
    [InlineData("a batch", """[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo"}}]""")]
    [InlineData("a notification", """{"jsonrpc":"2.0","method":"tools/call","params":{"name":"demo__echo"}}""")]
    [InlineData("another method", """{"jsonrpc":"2.0","id":1,"method":"tools/list"}""")]
    [InlineData("malformed JSON", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""")]
    [InlineData("trailing bytes", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo"}} x""")]
    [InlineData("an id that is no id", """{"jsonrpc":"2.0","id":true,"method":"tools/call","params":{"name":"demo__echo"}}""")]
    [InlineData("a null id", """{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"demo__echo"}}""")]
    [InlineData("another JSON-RPC version", """{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"demo__echo"}}""")]
    [InlineData("a _meta that is not an object", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":3}}""")]
    [InlineData("no params", """{"jsonrpc":"2.0","id":1,"method":"tools/call"}""")]
    [InlineData("a name that is not a string", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}""")]
    [InlineData("arguments that are not an object", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","arguments":[1]}}""")]
    [InlineData("a param the SDK might act on (task)", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","task":{"ttl":1000}}}""")]
    [InlineData("a progress token", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":{"progressToken":"p"}}}""")]
    [InlineData("a protocol key the SDK reads (logLevel)", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":{"io.modelcontextprotocol/logLevel":"debug"}}}""")]
    [InlineData("a version in _meta without the header", """{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}""")]
    public void What_the_sdk_must_see_is_not_direct(string what, string body)
    {
        Assert.True(Parse(body, Headers()) is null, what);
    }

    [Theory]
    [InlineData("no text/event-stream in Accept", "2025-06-18", null, null, "application/json")]
    [InlineData("an unsupported version", "1999-01-01", null, null, "application/json, text/event-stream")]
    [InlineData("2026-07-28 without Mcp-Method", "2026-07-28", null, "demo__echo", "application/json, text/event-stream")]
    [InlineData("2026-07-28 with another Mcp-Method", "2026-07-28", "tools/list", "demo__echo", "application/json, text/event-stream")]
    [InlineData("2026-07-28 with another Mcp-Name", "2026-07-28", "tools/call", "demo__other", "application/json, text/event-stream")]
    [InlineData("2026-07-28 with an encoded Mcp-Name", "2026-07-28", "tools/call", "=?base64?ZGVtb19fZWNobw==?=", "application/json, text/event-stream")]
    public void A_request_whose_headers_the_sdk_must_judge_is_not_direct(string what, string version, string? method, string? name, string accept)
    {
        Assert.True(Parse(Modern, Headers(version, method, name, accept)) is null, what);
    }

    [Theory]
    [InlineData("an Mcp-Param header", null)]
    [InlineData("no client capabilities", """{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}""")]
    [InlineData("another version in _meta", """{"io.modelcontextprotocol/protocolVersion":"2025-06-18","io.modelcontextprotocol/clientCapabilities":{}}""")]
    [InlineData("client info that is not an Implementation", """{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":5}""")]
    public void A_2026_07_28_call_the_sdk_must_judge_is_not_direct(string what, string? meta)
    {
        var headers = Headers("2026-07-28", "tools/call", "demo__echo");
        var body = Modern;
        if (meta is null)
            headers["Mcp-Param-Region"] = "eu";
        else
            body = $$$"""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"demo__echo","_meta":{{{meta}}}}}""";

        Assert.True(Parse(body, headers) is null, what);
    }

    [Fact]
    public void A_2026_07_28_result_is_complete_and_names_the_server_after_the_results_own_meta()
    {
        var call = Parse(Modern, Headers("2026-07-28", "tools/call", "demo__echo"))!;
        var result = new CallToolResult { Content = [new TextContentBlock { Text = "t" }], Meta = new JsonObject { ["sark"] = new JsonObject { ["code"] = "x" } } };

        var answer = call.Response(result, new Implementation { Name = "Sark.Host", Version = "9.9" });

        var json = JsonSerializer.SerializeToNode(answer, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)))!;
        Assert.Equal(3, json["id"]!.GetValue<int>());
        Assert.Equal("complete", json["result"]!["resultType"]!.GetValue<string>());
        var meta = json["result"]!["_meta"]!.AsObject();
        Assert.Equal(["sark", "io.modelcontextprotocol/serverInfo"], meta.Select(p => p.Key));
        Assert.Equal("9.9", meta["io.modelcontextprotocol/serverInfo"]!["version"]!.GetValue<string>());
    }

    [Fact]
    public void A_handshake_revision_result_is_left_as_the_handler_made_it()
    {
        var call = Parse("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo"}}""", Headers("2025-06-18"))!;

        var answer = call.Response(new CallToolResult { Content = [new TextContentBlock { Text = "t" }] }, new Implementation { Name = "n", Version = "1" });

        var result = answer.Result!.AsObject();
        Assert.False(result.ContainsKey("resultType"));
        Assert.False(result.ContainsKey("_meta"));
    }

    [Fact]
    public void Errors_are_the_sdks_with_our_data_and_on_2026_07_28_method_not_found_is_404()
    {
        var modern = Parse(Modern, Headers("2026-07-28", "tools/call", "demo__echo"))!;
        var legacy = Parse("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"demo__echo"}}""", Headers())!;
        var invalid = new McpProtocolException("Unknown tool: 'x'.", McpErrorCode.InvalidParams);
        invalid.Data["code"] = "not_found";
        invalid.Data["request_id"] = "r-1";
        invalid.Data[42] = "a key that is not a string is left out";
        var missing = new McpProtocolException("no such method", McpErrorCode.MethodNotFound);

        var error = modern.Error(invalid);
        var internalError = legacy.Error(new InvalidOperationException("a secret stack detail"));

        Assert.Equal((int)McpErrorCode.InvalidParams, error.Error.Code);
        Assert.Equal("Unknown tool: 'x'.", error.Error.Message);
        var data = Assert.IsType<Dictionary<string, JsonElement>>(error.Error.Data);
        Assert.Equal(["code", "request_id"], data.Keys.Order());
        Assert.Equal("not_found", data["code"].GetString());
        Assert.Equal(StatusCodes.Status200OK, modern.StatusOf(error));
        Assert.Equal(StatusCodes.Status404NotFound, modern.StatusOf(modern.Error(missing)));
        Assert.Equal(StatusCodes.Status200OK, legacy.StatusOf(legacy.Error(missing)));
        Assert.Equal((int)McpErrorCode.InternalError, internalError.Error.Code);
        Assert.Equal("An error occurred.", internalError.Error.Message);
    }
}
