namespace Sark.Host.FrontDoor;

/// <summary>
/// The request id of one MCP request at the front door (it reaches the upstream call, the audit
/// record and every error). A Streamable HTTP request is its own HTTP POST, so it keeps the POST's
/// id (its <c>X-Request-ID</c>, or the one the node gave it). A legacy SSE session runs all its
/// requests under its long-lived <c>GET /sse</c>, whose id they would share (and two calls in
/// flight at once would collide on the upstream), so each gets one of its own.
/// </summary>
internal static class FrontDoorRequestIds
{
    public static string Of(HttpContext context) =>
        HttpMethods.IsPost(context.Request.Method) ? context.TraceIdentifier : Guid.NewGuid().ToString("N");
}
