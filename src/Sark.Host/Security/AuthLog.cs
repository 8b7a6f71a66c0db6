namespace Sark.Host.Security;

/// <summary>
/// Log messages of authentication. They carry the reason and the caller id, never a key, a
/// token or a header value.
/// </summary>
internal static partial class AuthLog
{
    [LoggerMessage(101, LogLevel.Information, "{Method} {Path} refused: unauthenticated: {Reason}")]
    public static partial void Unauthenticated(ILogger logger, string method, string path, string reason);

    [LoggerMessage(102, LogLevel.Debug, "Caller {CallerId} authenticated by {AuthMethod}")]
    public static partial void Authenticated(ILogger logger, string callerId, string authMethod);
}
