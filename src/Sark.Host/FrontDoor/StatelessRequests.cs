using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol.Server;

namespace Sark.Host.FrontDoor;

/// <summary>
/// Stateless mode builds an MCP server for every request (the SDK's design), with every handler
/// the front door registers. A tools request needs only the tools handlers, so the JSON-RPC method
/// of a stateless POST is read off the request body without consuming it (the SDK then reads the
/// same bytes), and the server of a <c>tools/call</c> or <c>tools/list</c> request is built
/// without the resources and prompts handlers: about 4 KiB less per request, which stays alive
/// while the call is in flight (docs/PERFORMANCE.md, "Session 7"). Anything else (initialize,
/// resources, prompts, a batch, malformed JSON, a body whose first read does not reach its method)
/// gets the whole server. A plain <c>tools/call</c> gets no server at all: the front door answers
/// it itself (<see cref="DirectToolCall"/>). The POSTs of a Streamable HTTP session are read the
/// same way (<see cref="ReadInSessionAsync"/>), for their direct calls and the
/// <c>notifications/cancelled</c> that name them.
/// </summary>
internal static class StatelessRequests
{
    private static readonly object ToolsOnlyKey = new();

    /// <summary>
    /// Reads what the body holds so far and marks a tools request. With <paramref name="direct"/>
    /// (direct tool calls on, at the aggregated endpoint), a tools request is read whole and
    /// returned when it is a <see cref="DirectToolCall"/>: its body is then consumed. Otherwise the
    /// body is left unread for the SDK, and null is returned.
    /// </summary>
    public static async ValueTask<DirectToolCall?> ReadAsync(HttpContext context, bool direct)
    {
        var reader = context.Request.BodyReader;
        var read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
        if (!IsToolsRequest(read.Buffer, read.IsCompleted))
        {
            // Nothing consumed and nothing examined: the SDK's first read returns these bytes at once.
            reader.AdvanceTo(read.Buffer.Start);
            return null;
        }

        context.Items[ToolsOnlyKey] = ToolsOnlyKey;
        if (!direct)
        {
            reader.AdvanceTo(read.Buffer.Start);
            return null;
        }

        read = await WholeAsync(context, read).ConfigureAwait(false);
        DirectToolCall? call = null;
        try
        {
            call = DirectToolCall.TryParse(read.Buffer, context.Request.Headers);
        }
        finally
        {
            reader.AdvanceTo(call is null ? read.Buffer.Start : read.Buffer.End);
        }

        return call;
    }

    /// <summary>
    /// The whole body from the first read <paramref name="read"/>, nothing consumed (Kestrel holds
    /// it to the body limit, as it would for the SDK's read).
    /// </summary>
    private static async ValueTask<ReadResult> WholeAsync(HttpContext context, ReadResult read)
    {
        var reader = context.Request.BodyReader;
        while (!read.IsCompleted)
        {
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
        }

        return read;
    }

    /// <summary><c>HttpServerTransportOptions.ConfigureSessionOptions</c>: run for every stateless request, before its server is built.</summary>
    public static Task ConfigureServer(HttpContext context, McpServerOptions options, CancellationToken cancellationToken)
    {
        if (context.Items.ContainsKey(ToolsOnlyKey))
            WithoutResourcesAndPrompts(options);
        return Task.CompletedTask;
    }

    internal static void WithoutResourcesAndPrompts(McpServerOptions options)
    {
        var handlers = options.Handlers;
        handlers.ListResourcesHandler = null;
        handlers.ListResourceTemplatesHandler = null;
        handlers.ReadResourceHandler = null;
        handlers.SubscribeToResourcesHandler = null;
        handlers.UnsubscribeFromResourcesHandler = null;
        handlers.ListPromptsHandler = null;
        handlers.GetPromptHandler = null;
        if (options.Capabilities is { } capabilities)
        {
            capabilities.Resources = null;
            capabilities.Prompts = null;
        }
    }

    /// <summary>
    /// Reads what the body of a POST in a session (<paramref name="session"/>, opened at the
    /// aggregated endpoint) holds so far. A <c>tools/call</c> is read whole and returned when it is
    /// a <see cref="DirectToolCall"/> (its body is then consumed); a <c>notifications/cancelled</c>
    /// cancels the direct call it names. Anything else, and the notification too, is left unread for
    /// the SDK, and null is returned.
    /// </summary>
    public static async ValueTask<DirectToolCall?> ReadInSessionAsync(HttpContext context, DirectSession session)
    {
        var reader = context.Request.BodyReader;
        var read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
        var method = MethodOf(read.Buffer, read.IsCompleted);
        var calls = session.Calls;
        if (method != RequestMethod.ToolsCall && (method != RequestMethod.Cancelled || calls is not { Count: > 0 }))
        {
            reader.AdvanceTo(read.Buffer.Start);
            return null;
        }

        read = await WholeAsync(context, read).ConfigureAwait(false);
        DirectToolCall? call = null;
        try
        {
            if (method == RequestMethod.ToolsCall)
                call = DirectToolCall.TryParse(read.Buffer, context.Request.Headers, perRequestMetadata: false);
            else
                calls!.Cancel(read.Buffer);
        }
        finally
        {
            reader.AdvanceTo(call is null ? read.Buffer.Start : read.Buffer.End);
        }

        return call;
    }

    /// <summary>Whether <paramref name="body"/> is a <c>tools/call</c> or <c>tools/list</c> request (<see cref="MethodOf"/>).</summary>
    internal static bool IsToolsRequest(ReadOnlySequence<byte> body, bool complete) =>
        MethodOf(body, complete) is RequestMethod.ToolsCall or RequestMethod.ToolsList;

    /// <summary>
    /// The <c>method</c> of <paramref name="body"/> when it is one JSON-RPC object whose method
    /// the front door looks at. Members before <c>method</c> are skipped; <see cref="RequestMethod.Other"/>
    /// as soon as the bytes do not say (not an object, not yet read that far, not JSON).
    /// </summary>
    internal static RequestMethod MethodOf(ReadOnlySequence<byte> body, bool complete)
    {
        try
        {
            var json = new Utf8JsonReader(body, isFinalBlock: complete, state: default);
            if (!json.Read() || json.TokenType != JsonTokenType.StartObject)
                return RequestMethod.Other;
            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                var isMethod = json.ValueTextEquals("method"u8);
                if (!json.Read())
                    return RequestMethod.Other;
                if (isMethod)
                {
                    if (json.TokenType != JsonTokenType.String)
                        return RequestMethod.Other;
                    if (json.ValueTextEquals("tools/call"u8))
                        return RequestMethod.ToolsCall;
                    if (json.ValueTextEquals("tools/list"u8))
                        return RequestMethod.ToolsList;
                    return json.ValueTextEquals("notifications/cancelled"u8) ? RequestMethod.Cancelled : RequestMethod.Other;
                }

                if (!json.TrySkip())
                    return RequestMethod.Other;
            }

            return RequestMethod.Other;
        }
        catch (JsonException)
        {
            // The SDK answers malformed JSON itself.
            return RequestMethod.Other;
        }
    }
}

/// <summary>The JSON-RPC methods the front door reads off a request body before the SDK does.</summary>
internal enum RequestMethod
{
    Other,
    ToolsCall,
    ToolsList,
    Cancelled,
}
