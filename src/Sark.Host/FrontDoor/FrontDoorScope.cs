namespace Sark.Host.FrontDoor;

/// <summary>
/// Which part of the catalog an MCP request of the front door sees: every server (at <c>/mcp</c>,
/// names namespaced) or one (at <c>/servers/{name}/mcp</c>, its own names, unprefixed).
/// </summary>
internal static class FrontDoorScope
{
    /// <summary>The route of the single-server endpoint.</summary>
    public const string SingleServerPattern = "/servers/{name}/mcp";

    /// <summary>The server of a single-server request; null at the aggregated endpoint.</summary>
    public static string? SingleServer(HttpContext context) =>
        context.GetRouteValue("name") is string { Length: > 0 } name ? name : null;
}
