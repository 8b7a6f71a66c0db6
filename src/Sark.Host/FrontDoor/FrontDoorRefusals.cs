using Sark.Actors.Errors;
using Sark.Host.Api;

namespace Sark.Host.FrontDoor;

/// <summary>The front door's own HTTP refusals (Host/Origin, body size, sessions), in the node's error body <c>{"error":{"code","message","request_id"}}</c>.</summary>
internal static class FrontDoorRefusals
{
    /// <summary>421: the <c>Host</c> header names a host the node does not serve (DNS rebinding).</summary>
    public const string HostNotAllowed = "host_not_allowed";

    /// <summary>403: the <c>Origin</c> header names an origin that may not call the node.</summary>
    public const string OriginNotAllowed = "origin_not_allowed";

    /// <summary>429: a session limit (per node, per caller, or of the legacy transport) is reached.</summary>
    public const string SessionLimitReached = "session_limit_reached";

    /// <summary>429: a legacy SSE session posts faster than <c>legacy-sse.messages-per-second</c> allows.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>403: the session belongs to another caller.</summary>
    public const string SessionForbidden = "session_forbidden";

    public static readonly string TooLarge = SarkErrorCode.TooLarge.ToWire();

    public static readonly string NotFound = SarkErrorCode.NotFound.ToWire();

    public static readonly string InvalidRequest = SarkErrorCode.InvalidRequest.ToWire();

    public static Task WriteAsync(HttpContext context, ILogger logger, int status, string code, string message)
    {
        FrontDoorLog.Refused(logger, context.Request.Method, context.Request.Path, code, message);
        return ApiErrors.WriteAsync(context, status, code, message);
    }
}
