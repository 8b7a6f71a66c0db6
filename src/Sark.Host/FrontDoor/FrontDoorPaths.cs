namespace Sark.Host.FrontDoor;

/// <summary>The MCP endpoints of a request path (pure, so that the guard and the router agree on what is an MCP endpoint).</summary>
internal enum FrontDoorEndpointKind
{
    /// <summary>Not an MCP endpoint.</summary>
    None,

    /// <summary>Streamable HTTP: <c>/mcp</c> (the configured path) or <c>/servers/{name}/mcp</c>.</summary>
    Streamable,

    /// <summary>The legacy stream: <c>/sse</c> or <c>/servers/{name}/sse</c>.</summary>
    LegacySse,

    /// <summary>The legacy posts: <c>/messages</c> or <c>/servers/{name}/messages</c>.</summary>
    LegacyMessages,
}

/// <summary>
/// The paths of the front door: the aggregated endpoints (<c>/mcp</c>, <c>/sse</c>,
/// <c>/messages</c>) and those of one upstream under <c>/servers/{name}/</c> (<c>mcp</c>,
/// <c>sse</c>, <c>messages</c>). Matched as the router matches them: case-insensitive, with an
/// optional trailing slash. Pure.
/// </summary>
internal static class FrontDoorPaths
{
    /// <summary>The route of the single-server Streamable HTTP endpoint.</summary>
    public const string SingleServerMcp = "/servers/{name}/mcp";

    /// <summary>The route of the single-server legacy stream.</summary>
    public const string SingleServerSse = "/servers/{name}/sse";

    /// <summary>The route of the single-server legacy posts.</summary>
    public const string SingleServerMessages = "/servers/{name}/messages";

    private const string ServersPrefix = "/servers/";

    /// <summary>Which MCP endpoint <paramref name="path"/> is, given the configured Streamable HTTP path (<c>sark.front-door.path</c>).</summary>
    public static FrontDoorEndpointKind Of(string? path, string streamablePath)
    {
        if (string.IsNullOrEmpty(path))
            return FrontDoorEndpointKind.None;
        var p = path.AsSpan();
        if (p.Length > 1 && p[^1] == '/')
            p = p[..^1];
        if (p.Equals(streamablePath, StringComparison.OrdinalIgnoreCase))
            return FrontDoorEndpointKind.Streamable;
        if (p.Equals(LegacySseOptions.SsePath, StringComparison.OrdinalIgnoreCase))
            return FrontDoorEndpointKind.LegacySse;
        if (p.Equals(LegacySseOptions.MessagesPath, StringComparison.OrdinalIgnoreCase))
            return FrontDoorEndpointKind.LegacyMessages;
        if (!p.StartsWith(ServersPrefix, StringComparison.OrdinalIgnoreCase))
            return FrontDoorEndpointKind.None;

        var rest = p[ServersPrefix.Length..];
        var slash = rest.IndexOf('/');
        if (slash <= 0)
            return FrontDoorEndpointKind.None;
        var leaf = rest[(slash + 1)..];
        if (leaf.Equals("mcp", StringComparison.OrdinalIgnoreCase))
            return FrontDoorEndpointKind.Streamable;
        if (leaf.Equals("sse", StringComparison.OrdinalIgnoreCase))
            return FrontDoorEndpointKind.LegacySse;
        return leaf.Equals("messages", StringComparison.OrdinalIgnoreCase) ? FrontDoorEndpointKind.LegacyMessages : FrontDoorEndpointKind.None;
    }

    /// <summary>The legacy stream of the aggregated endpoint (<paramref name="server"/> null) or of one server.</summary>
    public static string SsePath(string? server) =>
        server is null ? LegacySseOptions.SsePath : $"/servers/{Uri.EscapeDataString(server)}/sse";

    /// <summary>Where the legacy client of the aggregated endpoint (<paramref name="server"/> null) or of one server posts.</summary>
    public static string MessagesPath(string? server) =>
        server is null ? LegacySseOptions.MessagesPath : $"/servers/{Uri.EscapeDataString(server)}/messages";
}
