using Sark.Actors;
using Sark.Actors.Errors;

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

    /// <summary>
    /// Refuses a request that would open (or, stateless, be) a session of a server that does not
    /// exist or that the caller may not see (as <c>GET /api/v1/servers/{name}</c> decides): 404
    /// <c>not_found</c>, written, and true. False, with nothing written, at the aggregated endpoint
    /// and for a server the caller sees. The same for <c>/servers/{name}/mcp</c> and <c>/servers/{name}/sse</c>.
    /// </summary>
    public static async Task<bool> RefuseUnseenServerAsync(HttpContext context, Caller caller, ILogger logger)
    {
        if (SingleServer(context) is not { } server || await MaySeeAsync(context, server, caller).ConfigureAwait(false))
            return false;
        await FrontDoorRefusals.WriteAsync(context, logger, StatusCodes.Status404NotFound, FrontDoorRefusals.NotFound,
            $"No server '{server}' is known to this node, or the caller may not see it (GET /api/v1/servers lists the servers you may see).").ConfigureAwait(false);
        return true;
    }

    /// <summary>Whether <paramref name="server"/> exists and <paramref name="caller"/> may see it.</summary>
    private static async Task<bool> MaySeeAsync(HttpContext context, string server, Caller caller)
    {
        // Resolved per request: the endpoints are built when the routes are mapped, before the actor system runs.
        var gateway = context.RequestServices.GetRequiredService<ISarkGateway>();
        try
        {
            await gateway.GetServerAsync(server, caller, context.RequestAborted).ConfigureAwait(false);
            return true;
        }
        catch (SarkNotFoundException)
        {
            return false;
        }
    }
}
