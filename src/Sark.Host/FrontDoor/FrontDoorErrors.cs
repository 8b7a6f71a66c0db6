using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Sark.Actors;
using Sark.Actors.Errors;

namespace Sark.Host.FrontDoor;

/// <summary>
/// How a failure reaches an MCP client of the front door, as the MCP spec prescribes: what is
/// wrong with the request itself (an unknown tool, a bad cursor) and an upstream's own JSON-RPC
/// error are JSON-RPC errors; everything else that stopped a call (policy, circuits, timeouts,
/// limits) is a tool result with <c>isError: true</c>, so that the model can read it. Both carry
/// the same object of ours: <c>{ code, request_id, ... }</c>, in <c>error.data</c> for a JSON-RPC
/// error and in <c>_meta.sark</c> for a result. Pure.
/// </summary>
internal static class FrontDoorErrors
{
    /// <summary>The JSON-RPC error for <paramref name="ex"/>, or null when it is an <c>isError</c> result (<see cref="ErrorResult"/>).</summary>
    /// <param name="what">What was asked for (a tool, prompt or resource name), for the message.</param>
    public static McpProtocolException? ProtocolError(SarkException ex, string what, string requestId) => ex switch
    {
        { Code: SarkErrorCode.NotFound } => Protocol($"Unknown {what}.", McpErrorCode.InvalidParams, SarkErrorCode.NotFound, ex.RequestId ?? requestId),
        UpstreamErrorException { JsonRpcCode: { } code } upstream => UpstreamProtocolError(upstream, code, requestId),
        _ => null,
    };

    /// <summary>
    /// The JSON-RPC error of a failed resources or prompts request (they have no <c>isError</c>
    /// result): as <see cref="ProtocolError"/> where that applies; a refusal of ours
    /// (<c>policy_denied</c>, <c>invalid_request</c>, <c>too_large</c>) is invalid-request; the rest
    /// (unavailable, timeout, shutting down) is an internal error. Our code is in the data.
    /// </summary>
    public static McpProtocolException RequestError(SarkException ex, string what, string requestId) =>
        ProtocolError(ex, what, requestId)
        ?? Protocol($"{ex.Code.ToWire()}: {ex.Message}",
            ex.Code is SarkErrorCode.PolicyDenied or SarkErrorCode.InvalidRequest or SarkErrorCode.TooLarge ? McpErrorCode.InvalidRequest : McpErrorCode.InternalError,
            ex.Code, ex.RequestId ?? requestId);

    /// <summary>A JSON-RPC error with our code and the request id in its data.</summary>
    public static McpProtocolException Protocol(string message, McpErrorCode error, SarkErrorCode code, string requestId)
    {
        var ex = new McpProtocolException(message, error);
        ex.Data["code"] = code.ToWire();
        ex.Data["request_id"] = requestId;
        return ex;
    }

    /// <summary>
    /// An upstream's own JSON-RPC error, relayed with its code (the upstream judged the request, so
    /// it is a protocol error downstream too); its data goes along as <c>upstream_data</c>.
    /// </summary>
    private static McpProtocolException UpstreamProtocolError(UpstreamErrorException upstream, int code, string requestId)
    {
        var ex = Protocol(upstream.Message, (McpErrorCode)code, SarkErrorCode.UpstreamError, upstream.RequestId ?? requestId);
        if (upstream.ErrorData is { } data)
            ex.Data["upstream_data"] = data;
        return ex;
    }

    /// <summary>An <c>isError</c> result that tells the model what happened (<c>policy_denied: ...</c>), with our object in <c>_meta.sark</c>.</summary>
    public static CallToolResult ErrorResult(SarkException ex, string requestId)
    {
        var code = ex.Code.ToWire();
        var sark = new JsonObject { ["code"] = code, ["request_id"] = ex.RequestId ?? requestId };
        if (ex is UpstreamUnavailableException { RetryAfter: { } retryAfter })
            sark["retry_after_seconds"] = Math.Ceiling(retryAfter.TotalSeconds);
        return new CallToolResult
        {
            IsError = true,
            Content = [new TextContentBlock { Text = $"{code}: {ex.Message}" }],
            Meta = new JsonObject { ["sark"] = sark },
        };
    }
}
