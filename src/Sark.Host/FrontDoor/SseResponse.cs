using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Sark.Host.FrontDoor;

/// <summary>The response of an MCP event stream, with the headers the SDK gives its own.</summary>
internal static class SseResponse
{
    /// <summary>
    /// <c>text/event-stream</c>, not cached, not compressed, not buffered by a proxy
    /// (<c>X-Accel-Buffering: no</c>) nor by Kestrel.
    /// </summary>
    public static void Start(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentType = "text/event-stream";
        headers.CacheControl = "no-cache,no-store";
        headers.ContentEncoding = "identity";
        headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}
