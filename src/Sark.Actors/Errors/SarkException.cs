using System.Text.Json;

namespace Sark.Actors.Errors;

/// <summary>
/// The base of every failure the facade reports. <see cref="Code"/> is stable and machine
/// readable; the message is a sentence meant for a person.
/// </summary>
public class SarkException : Exception
{
    public SarkException(SarkErrorCode code, string message, string? requestId = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        RequestId = requestId;
    }

    public SarkErrorCode Code { get; }

    /// <summary>The id of the logical call, the same one the audit record and the logs carry.</summary>
    public string? RequestId { get; }
}

/// <summary>The server, tool or upstream named by the caller does not exist.</summary>
public sealed class SarkNotFoundException(string message, string? requestId = null)
    : SarkException(SarkErrorCode.NotFound, message, requestId);

/// <summary>The request is malformed: bad JSON, wrong types, missing fields.</summary>
public sealed class SarkInvalidRequestException(string message, string? requestId = null)
    : SarkException(SarkErrorCode.InvalidRequest, message, requestId);

/// <summary>A request or response is larger than the configured limit.</summary>
public sealed class SarkTooLargeException(string message, string? requestId = null)
    : SarkException(SarkErrorCode.TooLarge, message, requestId);

/// <summary>The node is shutting down and takes no new work.</summary>
public sealed class SarkShuttingDownException(string message, string? requestId = null)
    : SarkException(SarkErrorCode.ShuttingDown, message, requestId);

/// <summary>
/// The upstream cannot take the call now: its circuit is open, its process died, or it is
/// still starting. <see cref="RetryAfter"/> says when the next attempt to reconnect is due.
/// </summary>
public sealed class UpstreamUnavailableException(string message, TimeSpan? retryAfter, string? requestId = null)
    : SarkException(SarkErrorCode.UpstreamUnavailable, message, requestId)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>The upstream did not answer within the call timeout; a cancellation was sent to it.</summary>
public sealed class UpstreamTimeoutException(string message, string? requestId = null)
    : SarkException(SarkErrorCode.UpstreamTimeout, message, requestId);

/// <summary>The upstream answered with an error: an HTTP status or a JSON-RPC error.</summary>
public sealed class UpstreamErrorException(
    string message, int? upstreamStatus, int? jsonRpcCode, JsonElement? data, string? requestId = null)
    : SarkException(SarkErrorCode.UpstreamError, message, requestId)
{
    public int? UpstreamStatus { get; } = upstreamStatus;

    public int? JsonRpcCode { get; } = jsonRpcCode;

    public JsonElement? ErrorData { get; } = data;
}
