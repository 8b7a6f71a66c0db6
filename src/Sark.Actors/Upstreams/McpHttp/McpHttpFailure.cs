using System.Net;
using System.Net.Sockets;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using Sark.Actors.Errors;

namespace Sark.Actors.Upstreams.McpHttp;

/// <summary>What went wrong with a request to an <c>mcp-http</c> upstream.</summary>
internal enum McpHttpFailureKind
{
    /// <summary>The server answered with a JSON-RPC error: a result of sorts, the connection is fine.</summary>
    JsonRpcError,

    /// <summary>HTTP 404 on a request that carried a session id: the server expired the session.</summary>
    SessionExpired,

    /// <summary>The server could not be reached (connection refused, reset, name not resolved).</summary>
    Unreachable,

    /// <summary>The server answered with an HTTP error status.</summary>
    HttpStatus,

    /// <summary>The call timeout passed.</summary>
    Timeout,

    /// <summary>The caller cancelled (or the connection is stopping).</summary>
    Cancelled,

    /// <summary>The transport closed: the SSE stream or the session ended.</summary>
    ConnectionClosed,

    /// <summary>The server named an endpoint on another origin (section 11): refused before sending.</summary>
    OriginRefused,

    /// <summary>Anything else the SDK threw.</summary>
    Other,
}

/// <summary>
/// A failed request, classified: what it tells the breaker and what the caller gets. Pure, so the
/// failure table of docs/transports/mcp-http.md is tested without actors or servers.
/// </summary>
internal sealed record McpHttpFailure(McpHttpFailureKind Kind, string Reason, int? JsonRpcCode = null, int? HttpStatus = null, bool NotSent = false)
{
    /// <summary>The connection cannot serve anything more: fail it, so the supervisor backs off and reconnects.</summary>
    public bool IsFatal => Kind is McpHttpFailureKind.Unreachable or McpHttpFailureKind.ConnectionClosed or McpHttpFailureKind.OriginRefused;

    /// <summary>Counts toward failure-threshold (a success resets the count). Answers that prove the server works do not.</summary>
    public bool CountsTowardBreaker => Kind switch
    {
        McpHttpFailureKind.Timeout or McpHttpFailureKind.Other => true,
        McpHttpFailureKind.HttpStatus => HttpStatus is null or >= 500 or 429,
        _ => false,
    };

    /// <summary>The server answered, so the consecutive-failure count starts again.</summary>
    public bool IsAnAnswer => Kind is McpHttpFailureKind.JsonRpcError || (Kind is McpHttpFailureKind.HttpStatus && !CountsTowardBreaker);

    /// <param name="exception">What the SDK threw.</param>
    /// <param name="timedOut">The call's token was cancelled because its timeout passed.</param>
    /// <param name="cancelled">The call's token was cancelled (by the timeout, the caller or a stop): whatever was thrown then follows from it.</param>
    public static McpHttpFailure Classify(Exception exception, bool timedOut = false, bool cancelled = false)
    {
        if (cancelled || timedOut || exception is OperationCanceledException)
        {
            return timedOut
                ? new McpHttpFailure(McpHttpFailureKind.Timeout, "the call timeout passed")
                : new McpHttpFailure(McpHttpFailureKind.Cancelled, "the call was cancelled");
        }

        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case EndpointOriginException origin:
                    return new McpHttpFailure(McpHttpFailureKind.OriginRefused, origin.Message, NotSent: true);
                case McpProtocolException protocol:
                    return new McpHttpFailure(McpHttpFailureKind.JsonRpcError, protocol.Message, JsonRpcCode: (int)protocol.ErrorCode);
                case ClientTransportClosedException { Details: HttpClientCompletionDetails { HttpStatusCode: HttpStatusCode.NotFound } }:
                    return new McpHttpFailure(McpHttpFailureKind.SessionExpired, "the server expired the session (HTTP 404)", HttpStatus: 404, NotSent: true);
                case ClientTransportClosedException closed:
                    return new McpHttpFailure(McpHttpFailureKind.ConnectionClosed, $"the connection closed ({Innermost(closed).Message.TrimEnd('.')})");
                case HttpRequestException { StatusCode: HttpStatusCode.NotFound }:
                    return new McpHttpFailure(McpHttpFailureKind.SessionExpired, "the server expired the session (HTTP 404)", HttpStatus: 404, NotSent: true);
                case HttpRequestException { StatusCode: { } status } http:
                    return new McpHttpFailure(McpHttpFailureKind.HttpStatus, $"HTTP {(int)status}: {http.Message}", HttpStatus: (int)status);
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError } http:
                    return new McpHttpFailure(McpHttpFailureKind.Unreachable, $"unreachable ({Innermost(http).Message.TrimEnd('.')})", NotSent: true);
                case HttpRequestException http:
                    return new McpHttpFailure(McpHttpFailureKind.Unreachable, $"the connection failed ({Innermost(http).Message.TrimEnd('.')})");
                case SocketException socket:
                    return new McpHttpFailure(McpHttpFailureKind.Unreachable, $"unreachable ({socket.Message.TrimEnd('.')})", NotSent: socket.SocketErrorCode == SocketError.ConnectionRefused);
            }
        }

        return new McpHttpFailure(McpHttpFailureKind.Other, exception.Message.TrimEnd('.'));
    }

    /// <summary>The error a caller gets for a failed <c>tools/call</c> that is not fatal to the connection.</summary>
    /// <param name="what">The request as messages name it; <c>tools/call '&lt;tool&gt;'</c> by default.</param>
    public SarkError ToCallError(string upstream, string tool, TimeSpan timeout, string? what = null) => ToCallErrorCore(upstream, tool, timeout, what ?? $"tools/call '{tool}'");

    private SarkError ToCallErrorCore(string upstream, string tool, TimeSpan timeout, string what) => Kind switch
    {
        McpHttpFailureKind.JsonRpcError => new SarkError(SarkErrorCode.UpstreamError,
            $"Upstream '{upstream}' answered {what} with JSON-RPC error {JsonRpcCode}: {Reason}", JsonRpcCode: JsonRpcCode),
        McpHttpFailureKind.Timeout => new SarkError(SarkErrorCode.UpstreamTimeout,
            $"Upstream '{upstream}' did not answer {what} within {timeout.TotalSeconds:0.###}s; the call was cancelled upstream."),
        McpHttpFailureKind.HttpStatus => new SarkError(SarkErrorCode.UpstreamError,
            $"Upstream '{upstream}' answered {what} with {Reason.TrimEnd('.')}.", UpstreamStatus: HttpStatus),
        McpHttpFailureKind.Cancelled => new SarkError(SarkErrorCode.UpstreamUnavailable,
            $"The call to '{tool}' on upstream '{upstream}' was cancelled."),
        McpHttpFailureKind.Unreachable or McpHttpFailureKind.ConnectionClosed or McpHttpFailureKind.OriginRefused or McpHttpFailureKind.SessionExpired =>
            new SarkError(SarkErrorCode.UpstreamUnavailable, $"Upstream '{upstream}' failed: {Reason}. Try again shortly.") { NotSent = NotSent },
        _ => new SarkError(SarkErrorCode.UpstreamError, $"The call to '{tool}' on upstream '{upstream}' failed: {Reason}."),
    };

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
            ex = ex.InnerException;
        return ex;
    }
}
