namespace Sark.Host.FrontDoor;

/// <summary>
/// Which part of the catalog an MCP request of the front door sees: every server (at <c>/mcp</c>,
/// names namespaced) or one (at <c>/servers/{name}/mcp</c> or its legacy pair
/// <c>/servers/{name}/sse</c> + <c>/messages</c>, its own names, unprefixed; see <see cref="FrontDoorPaths"/>).
/// A legacy session's handlers run with its <c>sse</c> request, so they see that route's name.
/// </summary>
internal static class FrontDoorScope
{
    /// <summary>The server of a single-server request; null at the aggregated endpoint.</summary>
    public static string? SingleServer(HttpContext context) =>
        context.GetRouteValue("name") is string { Length: > 0 } name ? name : null;
}
