using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Sark.Actors;
using Sark.Actors.Errors;
using Sark.Host.Security;

namespace Sark.Host.FrontDoor;

/// <summary>
/// <c>tools/list</c> and <c>tools/call</c> of the MCP front door, on top of <see cref="ISarkGateway"/>:
/// every tool of every server the caller may call, under its front-door name, and every call made
/// as the caller that the authentication middleware put on the HTTP request.
/// </summary>
internal sealed class FrontDoorHandlers(
    ISarkGateway gateway, ToolNames names, HiddenTools hidden, IHttpContextAccessor http, FrontDoorRuntime runtime,
    Microsoft.Extensions.Options.IOptions<McpServerOptions> server, ILogger<FrontDoorHandlers> logger)
{
    private static readonly JsonElement EmptyObjectSchema = JsonDocument.Parse("""{"type":"object"}""").RootElement.Clone();

    public async ValueTask<ListToolsResult> ListToolsAsync(RequestContext<ListToolsRequestParams> request, CancellationToken cancellationToken)
    {
        var context = CurrentHttpContext();
        var after = ListCursor.Read(ListKind.Tools, request.Params?.Cursor, "tools/list", FrontDoorRequestIds.Of(context));
        var single = FrontDoorScope.SingleServer(context);
        IReadOnlyList<ToolInfo> tools;
        try
        {
            tools = await gateway.ListToolsAsync(single, context.GetCaller(), cancellationToken).ConfigureAwait(false);
        }
        catch (SarkException ex) when (single is not null)
        {
            throw FrontDoorErrors.RequestError(ex, $"server: '{single}'", FrontDoorRequestIds.Of(context));
        }

        var all = new List<Tool>(tools.Count);
        foreach (var tool in tools)
        {
            var name = tool.ToolName;
            if (single is not null ? ToolNames.IsValidName(name) : names.TryQualify(tool.ServerName, tool.ToolName, out name))
                all.Add(new Tool { Name = name!, Description = tool.Description, InputSchema = SchemaOf(tool) });
            else
                hidden.Report(tool.ServerName, tool.ToolName, qualified: single is null);
        }

        all.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var page = ListCursor.Page(all, static t => t.Name, after, runtime.Options.PageSize, ListKind.Tools, out var next);
        return new ListToolsResult { Tools = page, NextCursor = next };
    }

    public ValueTask<CallToolResult> CallToolAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken) =>
        CallAsync(CurrentHttpContext(), request.Params, request.Server, cancellationToken);

    /// <summary>
    /// One <c>tools/call</c> of <paramref name="context"/>'s caller. <paramref name="server"/> is the
    /// MCP server of the request, which relays the upstream's progress and, at
    /// <c>/servers/{name}/mcp</c>, its requests to the client; null for a <see cref="DirectToolCall"/>,
    /// which has neither (no <c>progressToken</c>, the aggregated endpoint).
    /// </summary>
    internal async ValueTask<CallToolResult> CallAsync(HttpContext context, CallToolRequestParams? parameters, McpServer? server, CancellationToken cancellationToken)
    {
        var requestId = FrontDoorRequestIds.Of(context);
        var name = parameters?.Name;
        var single = FrontDoorScope.SingleServer(context);
        string? upstreamServer, tool;
        if (single is not null)
            (upstreamServer, tool) = (single, name);
        else if (!names.TryParse(name, out upstreamServer, out tool))
            upstreamServer = tool = null;
        if (string.IsNullOrEmpty(upstreamServer) || string.IsNullOrEmpty(tool))
            throw FrontDoorErrors.Protocol($"Unknown tool: '{name}'.", McpErrorCode.InvalidParams, SarkErrorCode.NotFound, requestId);

        // The caller's progressToken: the upstream's progress for this call is relayed under it.
        await using var progress = parameters?.ProgressToken is { } token && server is not null ? new ProgressRelay(server, token, cancellationToken) : null;
        try
        {
            var result = await gateway.InvokeToolAsync(
                upstreamServer, tool, ToObject(parameters?.Arguments),
                new InvokeOptions
                {
                    Caller = context.GetCaller(),
                    RequestId = requestId,
                    Progress = progress,
                    // One upstream through the gateway: its requests to the client are relayed both ways.
                    ClientRequests = single is null || server is null ? null : new ClientRelay(server),
                }, cancellationToken).ConfigureAwait(false);
            return ToCallToolResult(result.Result)
                ?? throw new McpProtocolException($"The upstream of '{name}' answered with a result that is not a CallToolResult.", McpErrorCode.InternalError);
        }
        catch (SarkException ex)
        {
            if (FrontDoorErrors.ProtocolError(ex, $"tool: '{name}'", requestId) is { } protocol)
                throw protocol;
            return FrontDoorErrors.ErrorResult(ex, requestId);
        }
    }

    /// <summary>
    /// A <see cref="DirectToolCall"/> through <see cref="CallAsync"/>, made into the message the
    /// SDK's server would send: the result, or the JSON-RPC error of what the call threw (one that is
    /// not an MCP error is logged, event 707). Null when <paramref name="cancelled"/> (the call's own
    /// token source: a <c>notifications/cancelled</c>, the end of its session) stopped it, since a
    /// cancelled request gets no answer. A cancellation of <paramref name="context"/>'s request is
    /// thrown.
    /// </summary>
    internal async Task<JsonRpcMessage?> AnswerAsync(HttpContext context, DirectToolCall call, CancellationToken cancellationToken, CancellationTokenSource? cancelled)
    {
        try
        {
            var result = await CallAsync(context, call.Params, server: null, cancellationToken).ConfigureAwait(false);
            return call.Response(result, server.Value.ServerInfo ?? FrontDoorEndpoint.ServerInfo);
        }
        catch (OperationCanceledException) when (cancelled is { IsCancellationRequested: true } && !context.RequestAborted.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            if (ex is not McpException)
                FrontDoorLog.DirectCallFailed(logger, context.GetCaller().Id, ex);
            return call.Error(ex);
        }
    }

    private HttpContext CurrentHttpContext() =>
        http.HttpContext ?? throw new McpProtocolException("The front door has no HTTP request for this message.", McpErrorCode.InternalError);

    private static JsonElement SchemaOf(ToolInfo tool) =>
        tool.InputSchema is { ValueKind: JsonValueKind.Object } schema
        && schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("object")
            ? schema
            : EmptyObjectSchema;

    private static JsonElement? ToObject(IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null)
            return null;
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in arguments)
            {
                writer.WritePropertyName(key);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static CallToolResult? ToCallToolResult(JsonElement result) =>
        result.ValueKind == JsonValueKind.Object
            ? (CallToolResult?)result.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(CallToolResult)))
            : null;
}
