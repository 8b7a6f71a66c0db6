namespace Sark.Host.FrontDoor;

/// <summary>Log messages of the MCP front door's HTTP side. They carry caller ids and paths, never a credential.</summary>
internal static partial class FrontDoorLog
{
    [LoggerMessage(701, LogLevel.Information, "{Method} {Path} refused: {Code}: {Reason}")]
    public static partial void Refused(ILogger logger, string method, string path, string code, string reason);

    [LoggerMessage(702, LogLevel.Warning,
        "Caller {CallerId} ({UserAgent}) uses the deprecated HTTP+SSE transport at /sse; it goes away after {Sunset}. Move the client to Streamable HTTP at {Path} (see docs/migration-legacy-sse.md)")]
    public static partial void LegacyClient(ILogger logger, string callerId, string userAgent, string sunset, string path);

    [LoggerMessage(703, LogLevel.Information, "Legacy SSE session {SessionId} of {CallerId} closed after {IdleTimeout} without a message")]
    public static partial void LegacyIdle(ILogger logger, string sessionId, string callerId, TimeSpan idleTimeout);

    [LoggerMessage(704, LogLevel.Warning,
        "The MCP front door accepts any Host header: the node listens on every interface and sark.front-door.allowed-hosts is empty. Set it to the names clients use")]
    public static partial void AnyHost(ILogger logger);

    [LoggerMessage(707, LogLevel.Error, "A direct tools/call of {CallerId} failed unexpectedly; the caller got JSON-RPC error -32603")]
    public static partial void DirectCallFailed(ILogger logger, string callerId, Exception exception);
}
