using System.Text.Json;

namespace Sark.Actors.Errors;

/// <summary>
/// A failure as a value: what actors reply with instead of throwing across the boundary.
/// The facade turns it into the matching <see cref="SarkException"/>.
/// </summary>
/// <param name="Code">The stable code.</param>
/// <param name="Message">A sentence that says what happened and what to do.</param>
/// <param name="RetryAfter">For <see cref="SarkErrorCode.UpstreamUnavailable"/>: the time until the next try.</param>
/// <param name="UpstreamStatus">For <see cref="SarkErrorCode.UpstreamError"/>: the upstream's HTTP status, if any.</param>
/// <param name="JsonRpcCode">For <see cref="SarkErrorCode.UpstreamError"/>: the upstream's JSON-RPC error code, if any.</param>
/// <param name="Data">The upstream's JSON-RPC error data, if any.</param>
public sealed record SarkError(
    SarkErrorCode Code,
    string Message,
    TimeSpan? RetryAfter = null,
    int? UpstreamStatus = null,
    int? JsonRpcCode = null,
    JsonElement? Data = null)
{
    /// <summary>
    /// The call provably never reached the upstream (the circuit refused it, or the connection
    /// could not be made), so another route may take it without risk of running it twice.
    /// </summary>
    public bool NotSent { get; init; }

    public SarkException ToException(string? requestId) => Code switch
    {
        SarkErrorCode.NotFound => new SarkNotFoundException(Message, requestId),
        SarkErrorCode.InvalidRequest => new SarkInvalidRequestException(Message, requestId),
        SarkErrorCode.Unauthenticated => new SarkUnauthenticatedException(Message, requestId),
        SarkErrorCode.UpstreamUnavailable => new UpstreamUnavailableException(Message, RetryAfter, requestId),
        SarkErrorCode.UpstreamTimeout => new UpstreamTimeoutException(Message, requestId),
        SarkErrorCode.UpstreamError => new UpstreamErrorException(Message, UpstreamStatus, JsonRpcCode, Data, requestId),
        SarkErrorCode.TooLarge => new SarkTooLargeException(Message, requestId),
        SarkErrorCode.ShuttingDown => new SarkShuttingDownException(Message, requestId),
        _ => new SarkException(Code, Message, requestId),
    };
}
