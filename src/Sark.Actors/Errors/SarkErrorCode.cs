namespace Sark.Actors.Errors;

/// <summary>
/// The stable error codes a caller can see (DESIGN.md section 9). The wire form is
/// <see cref="SarkErrorCodes.ToWire"/>: lower snake case, never renamed once shipped.
/// </summary>
public enum SarkErrorCode
{
    NotFound,
    InvalidRequest,
    Unauthenticated,
    PolicyDenied,
    PolicyUnavailable,
    UpstreamUnavailable,
    UpstreamTimeout,
    UpstreamError,
    TooLarge,
    StreamLimitReached,
    ShuttingDown,
}

/// <summary>Wire names and HTTP statuses of <see cref="SarkErrorCode"/>.</summary>
public static class SarkErrorCodes
{
    public static string ToWire(this SarkErrorCode code) => code switch
    {
        SarkErrorCode.NotFound => "not_found",
        SarkErrorCode.InvalidRequest => "invalid_request",
        SarkErrorCode.Unauthenticated => "unauthenticated",
        SarkErrorCode.PolicyDenied => "policy_denied",
        SarkErrorCode.PolicyUnavailable => "policy_unavailable",
        SarkErrorCode.UpstreamUnavailable => "upstream_unavailable",
        SarkErrorCode.UpstreamTimeout => "upstream_timeout",
        SarkErrorCode.UpstreamError => "upstream_error",
        SarkErrorCode.TooLarge => "too_large",
        SarkErrorCode.StreamLimitReached => "stream_limit_reached",
        SarkErrorCode.ShuttingDown => "shutting_down",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    /// <summary>The HTTP status the REST API answers with for a code.</summary>
    public static int ToHttpStatus(this SarkErrorCode code) => code switch
    {
        SarkErrorCode.NotFound => 404,
        SarkErrorCode.InvalidRequest => 400,
        SarkErrorCode.Unauthenticated => 401,
        SarkErrorCode.PolicyDenied => 403,
        SarkErrorCode.PolicyUnavailable => 503,
        SarkErrorCode.UpstreamUnavailable => 503,
        SarkErrorCode.UpstreamTimeout => 504,
        SarkErrorCode.UpstreamError => 502,
        SarkErrorCode.TooLarge => 413,
        SarkErrorCode.StreamLimitReached => 429,
        SarkErrorCode.ShuttingDown => 503,
        _ => 500,
    };
}
