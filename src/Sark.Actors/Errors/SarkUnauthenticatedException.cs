namespace Sark.Actors.Errors;

/// <summary>
/// The caller could not be authenticated: no credential where one is required, an unknown API
/// key, a bearer token that is malformed, expired, for another audience or badly signed. The
/// message says which, and never contains the credential itself.
/// </summary>
public sealed class SarkUnauthenticatedException(string message, string? requestId = null, string? scheme = null)
    : SarkException(SarkErrorCode.Unauthenticated, message, requestId)
{
    /// <summary>
    /// The scheme of the credential that failed (<c>Bearer</c>, <c>ApiKey</c>), or null when none
    /// was presented. An HTTP entry point uses it to add <c>error="invalid_token"</c> to its challenge.
    /// </summary>
    public string? Scheme { get; } = scheme;
}
