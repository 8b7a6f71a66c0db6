using System.Buffers;
using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace Sark.Host.FrontDoor;

/// <summary>
/// A stateless <c>tools/call</c> that the front door answers itself, without the MCP server the
/// SDK builds for every stateless request (<c>sark.front-door.direct-tool-calls</c>).
/// <para>
/// That server is much of what a stateless call costs: without it a call takes about 40 % less
/// CPU on the node and allocates half (16.6 against 34.3 KiB), and it skips the hops of the
/// server's message loop (docs/PERFORMANCE.md, "Session 10"). A plain tool
/// call needs none of it: the request is one message, its answer is one event, and the handler is
/// the same one the SDK would call (<c>FrontDoorHandlers.CallAsync</c>). So a request that is
/// exactly that is answered here, with the SDK's own types and serializer, as the SDK would answer
/// it; anything else goes to the SDK, which checks and answers it as always.
/// </para>
/// <para>
/// Answered here (<see cref="TryParse"/>): a POST at the aggregated endpoint that accepts both
/// <c>application/json</c> and <c>text/event-stream</c>, whose body is one JSON-RPC request for
/// <c>tools/call</c> with an id, whose params hold only <c>name</c>, <c>arguments</c> and
/// <c>_meta</c>, without a <c>progressToken</c> (progress is streamed by the SDK), and whose protocol
/// version is one the SDK accepts with nothing to check: no <c>MCP-Protocol-Version</c> header (and
/// no version in <c>_meta</c>), a version of the <c>initialize</c> handshake, or
/// <c>2026-07-28</c> with its request headers and metadata as that revision requires them.
/// </para>
/// </summary>
/// <param name="Request">The JSON-RPC request, as the SDK reads it.</param>
/// <param name="Params">Its params, as the SDK gives them to a <c>tools/call</c> handler.</param>
/// <param name="PerRequestMetadata">
/// The <c>2026-07-28</c> revision: the result gets <c>resultType: "complete"</c> and the server's
/// identity in <c>_meta</c>, and some errors their HTTP status.
/// </param>
internal sealed record DirectToolCall(JsonRpcRequest Request, CallToolRequestParams Params, bool PerRequestMetadata)
{
    /// <summary>The revision that replaced the <c>initialize</c> handshake with per-request metadata.</summary>
    internal const string PerRequestMetadataVersion = "2026-07-28";

    private const string ProtocolVersionHeader = "MCP-Protocol-Version";
    private const string MethodHeader = "Mcp-Method";
    private const string NameHeader = "Mcp-Name";

    internal const string ProtocolVersionMeta = "io.modelcontextprotocol/protocolVersion";
    internal const string ClientInfoMeta = "io.modelcontextprotocol/clientInfo";
    internal const string ClientCapabilitiesMeta = "io.modelcontextprotocol/clientCapabilities";
    internal const string ServerInfoMeta = "io.modelcontextprotocol/serverInfo";

    /// <summary>The revisions of the <c>initialize</c> handshake that the SDK (2.3.1) supports.</summary>
    private static readonly HashSet<string> HandshakeVersions = new(StringComparer.Ordinal) { "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25" };

    private static readonly HashSet<string> ParamNames = new(StringComparer.Ordinal) { "name", "arguments", "_meta" };

    private static readonly HashSet<string> ProtocolMeta = new(StringComparer.Ordinal) { ProtocolVersionMeta, ClientInfoMeta, ClientCapabilitiesMeta };

    private static readonly byte[] EventPrefix = "event: message\ndata: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    /// <summary>
    /// The call in <paramref name="body"/> (the whole request body) when the front door may answer
    /// it itself; null when the SDK should (see the type's summary). Pure.
    /// </summary>
    public static DirectToolCall? TryParse(ReadOnlySequence<byte> body, IHeaderDictionary headers, bool perRequestMetadata = true)
    {
        if (!AcceptsJsonAndEventStream(headers))
            return null;

        JsonRpcRequest? request;
        try
        {
            var reader = new Utf8JsonReader(body);
            request = JsonSerializer.Deserialize(ref reader, Json<JsonRpcMessage>()) as JsonRpcRequest;
            // Anything after the message (the SDK reads the whole body as one value and refuses it).
            if (reader.Read())
                return null;
        }
        catch (Exception ex) when (IsUnreadable(ex))
        {
            return null;
        }

        return request is null ? null : Of(request, headers, perRequestMetadata);
    }

    /// <summary>
    /// <paramref name="request"/>, already read, when the front door may answer it itself; null
    /// when the SDK should. <paramref name="headers"/> are those of its HTTP request; null on the
    /// legacy transport, whose posts carry no protocol version (the session's is that of its
    /// handshake). <paramref name="perRequestMetadata"/>: whether a <c>2026-07-28</c> request may be
    /// answered here (stateless mode; that revision has no sessions). Pure.
    /// </summary>
    public static DirectToolCall? Of(JsonRpcRequest request, IHeaderDictionary? headers, bool perRequestMetadata)
    {
        if (request is not { Method: RequestMethods.ToolsCall, Id.Id: not null, Params: JsonObject parameters }
            || parameters.Any(static p => !ParamNames.Contains(p.Key))
            || parameters["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String
            || parameters["arguments"] is not (null or JsonObject))
            return null;

        var meta = parameters["_meta"];
        if (meta is not (null or JsonObject))
            return null;
        var metaObject = meta as JsonObject;
        if (metaObject is not null && (metaObject.ContainsKey("progressToken")
            || metaObject.Any(static m => m.Key.StartsWith("io.modelcontextprotocol/", StringComparison.Ordinal) && !ProtocolMeta.Contains(m.Key))))
            return null;

        if (RevisionOf(headers, name.GetValue<string>(), metaObject) is not { } perRequest || (perRequest && !perRequestMetadata))
            return null;

        CallToolRequestParams? typed;
        try
        {
            typed = parameters.Deserialize(Json<CallToolRequestParams>());
        }
        catch (Exception ex) when (IsUnreadable(ex))
        {
            return null;
        }

        return typed is { Name: not null, ProgressToken: null } ? new DirectToolCall(request, typed, perRequest) : null;
    }

    /// <summary>
    /// Whether the request is on <c>2026-07-28</c> (true) or served as the <c>initialize</c>
    /// handshake's revisions are (false), when the SDK would take it so without a check of its own;
    /// null when it would check something (the SDK then answers).
    /// </summary>
    private static bool? RevisionOf(IHeaderDictionary? headers, string name, JsonObject? meta)
    {
        var version = headers is null ? default : headers[ProtocolVersionHeader];
        if (version.Count == 0 || (version.Count == 1 && string.IsNullOrEmpty(version[0])))
            return meta?.ContainsKey(ProtocolVersionMeta) == true ? null : false;
        if (version.Count != 1 || headers is null)
            return null;
        if (HandshakeVersions.Contains(version[0]!))
            return false;
        return version[0] == PerRequestMetadataVersion && IsPerRequestCall(headers, name, meta) ? true : null;
    }

    /// <summary>
    /// <c>2026-07-28</c>: <c>Mcp-Method</c> and <c>Mcp-Name</c> match the body (plainly: an encoded
    /// name goes to the SDK), no <c>Mcp-Param-*</c> header, and <c>_meta</c> names the same revision
    /// and carries the client's capabilities (and, if any, its identity) in a form the SDK reads.
    /// </summary>
    private static bool IsPerRequestCall(IHeaderDictionary headers, string name, JsonObject? meta)
    {
        if (headers[MethodHeader] is not [{ } method] || method.Trim() != RequestMethods.ToolsCall
            || headers[NameHeader] is not [{ } named] || named.Trim() != name
            || headers.Keys.Any(static key => key.StartsWith("Mcp-Param-", StringComparison.OrdinalIgnoreCase)))
            return false;
        if (meta is null || meta[ProtocolVersionMeta] is not JsonValue version || version.GetValueKind() != JsonValueKind.String
            || version.GetValue<string>() != PerRequestMetadataVersion)
            return false;
        try
        {
            return meta[ClientCapabilitiesMeta] is JsonObject capabilities && capabilities.Deserialize(Json<ClientCapabilities>()) is not null
                && (meta[ClientInfoMeta] is not { } info || info.Deserialize(Json<Implementation>()) is not null);
        }
        catch (Exception ex) when (IsUnreadable(ex))
        {
            return false;
        }
    }

    /// <summary>What reading JSON into the SDK's types throws for input it cannot take: the SDK answers such a request itself.</summary>
    internal static bool IsUnreadable(Exception ex) => ex is JsonException or InvalidOperationException or FormatException or NotSupportedException;

    private static bool AcceptsJsonAndEventStream(IHeaderDictionary headers)
    {
        if (headers.Accept.Count == 0
            || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParseList(headers.Accept, out var accepted))
            return false;
        return accepted.Any(static a => a.MatchesMediaType("application/json")) && accepted.Any(static a => a.MatchesMediaType("text/event-stream"));
    }

    /// <summary>The answer to a call that returned <paramref name="result"/>: what the SDK's server sends.</summary>
    public JsonRpcResponse Response(CallToolResult result, Implementation serverInfo)
    {
        if (PerRequestMetadata)
            result.ResultType ??= "complete";
        var node = JsonSerializer.SerializeToNode(result, Json<CallToolResult>())!.AsObject();
        if (PerRequestMetadata)
        {
            if (node["_meta"] is not JsonObject meta)
                node["_meta"] = meta = new JsonObject();
            meta[ServerInfoMeta] = JsonSerializer.SerializeToNode(serverInfo, Json<Implementation>());
        }

        return new JsonRpcResponse { Id = Request.Id, Result = node };
    }

    /// <summary>The answer to a call that threw <paramref name="ex"/>: the JSON-RPC error the SDK's server makes of it.</summary>
    public JsonRpcError Error(Exception ex) => new()
    {
        Id = Request.Id,
        Error = ex switch
        {
            McpProtocolException protocol => new JsonRpcErrorDetail { Code = (int)protocol.ErrorCode, Message = protocol.Message, Data = DataOf(protocol.Data) },
            McpException mcp => new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = mcp.Message },
            _ => new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = "An error occurred." },
        },
    };

    /// <summary>
    /// The HTTP status of an answer: 200, except that on <c>2026-07-28</c> a method-not-found error
    /// is 404 and a header-mismatch, missing-capability or unsupported-version error is 400.
    /// </summary>
    public int StatusOf(JsonRpcMessage answer) =>
        PerRequestMetadata && answer is JsonRpcError { Error.Code: var code }
            ? (McpErrorCode)code switch
            {
                McpErrorCode.MethodNotFound => StatusCodes.Status404NotFound,
                McpErrorCode.HeaderMismatch or McpErrorCode.MissingRequiredClientCapability or McpErrorCode.UnsupportedProtocolVersion => StatusCodes.Status400BadRequest,
                _ => StatusCodes.Status200OK,
            }
            : StatusCodes.Status200OK;

    /// <summary>
    /// Writes <paramref name="answer"/> as the SDK does: one SSE event, <c>message</c>, on a stream
    /// that is not buffered, after <paramref name="preamble"/> (the SDK's <c>prime</c> event, where it
    /// writes one). <paramref name="started"/>: the headers (and the preamble) have gone already
    /// (<see cref="DirectResponse"/>). No answer (a call cancelled in its session): the stream ends
    /// without an event, as the SDK sends none.
    /// </summary>
    public async Task WriteAsync(HttpContext context, JsonRpcMessage? answer, bool started, ReadOnlyMemory<byte> preamble = default)
    {
        var body = context.Response.BodyWriter;
        if (!started)
        {
            context.Response.StatusCode = answer is null ? StatusCodes.Status200OK : StatusOf(answer);
            SseResponse.Start(context);
            if (!preamble.IsEmpty)
                body.Write(preamble.Span);
        }

        if (answer is null)
        {
            await body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            return;
        }

        body.Write(EventPrefix);
        using (var writer = new Utf8JsonWriter(body))
            JsonSerializer.Serialize(writer, answer, Json<JsonRpcMessage>());
        body.Write(EventEnd);
        await body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static Dictionary<string, JsonElement>? DataOf(IDictionary data)
    {
        Dictionary<string, JsonElement>? converted = null;
        foreach (DictionaryEntry entry in data)
        {
            if (entry.Key is not string key)
                continue;
            try
            {
                var value = entry.Value is JsonElement element ? element : JsonSerializer.SerializeToElement(entry.Value, Json<object?>());
                (converted ??= new Dictionary<string, JsonElement>(data.Count))[key] = value;
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException)
            {
                // As the SDK does: a value that does not serialize is left out.
            }
        }

        return converted;
    }

    internal static System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> Json<T>() =>
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(T));
}
